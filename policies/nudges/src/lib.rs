//! Closure-nudge policy: reminders, warnings and escalations before the chart deadline (being written).
