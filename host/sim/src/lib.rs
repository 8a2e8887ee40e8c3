//! Backlog metrics, report rendering and a clinic workload simulator for
//! Switchboard.
//!
//! - [`metrics`]: pure KPI functions over plain records ([`metrics::report`],
//!   [`metrics::compare`], [`metrics::roi`]).
//! - [`render`]: a terminal table, CSV and an SVG line chart of a report or
//!   a comparison.
//! - [`sim`]: generates clinic days for a practice and simulates who does
//!   the work, producing the KPI inputs and the same data as FHIR R4 and
//!   HL7 v2 for the connectors.
//! - [`local`]: site-local calendar arithmetic shared by both.
//!
//! The crate does no I/O and depends on neither the host nor the engine:
//! the host converts its stored events into [`metrics::MetricsInput`] and
//! renders what this crate returns.
//!
//! # KPI definitions
//!
//! Every "day" is a date in the site's IANA time zone. A *clinic day* is a
//! date whose weekday has clinic hours. A day's *closing instant* is the
//! site's closing time (such as 18:00) on that local date, computed per
//! date, so it is 23:00Z on 2026-03-08 and 00:00Z on 2026-11-02 for an
//! 18:00 close in America/Chicago. A report covers an inclusive range of
//! dates; anything after its optional `as_of` instant is treated as not yet
//! known.
//!
//! | KPI | definition | better |
//! | --- | --- | --- |
//! | open charts at end of day | at each clinic day's closing instant `C` (not after `as_of`), the charts whose visit ended before `C` and that were not signed by `C`; the range value is the mean over those days | lower |
//! | charts still open | the same count at the closing instant of the range's last date (or `as_of` if earlier), including charts from before the range, with age buckets in whole days since the visit ended: 0-1, 2-3, 4-7, 8-14, >14 | lower |
//! | days to close (median, mean) | for charts whose visit ended on a date of the range and that were signed by `as_of`: (signed − visit ended) in days of 24 hours; an even count's median is the mean of the middle two; unsigned charts are not in it, they are the row above | lower |
//! | charts closed same day | share of the range's visits signed on the visit's local date | higher |
//! | days to claim (median, mean) | for claims whose date of service is in the range, submitted by `as_of`: (submitted − date of service) in days | lower |
//! | physician-inbox share | share of the items routed on a date of the range whose role is a clinician role (physician, NP, PA) | lower |
//! | after-hours signing | share of signatures on a date of the range (the signature's own local date, so a signature at 00:30 belongs to the day it happened) made outside the signer's working hours: their own shifts, else the clinic hours; a shift's end minute is outside it | lower |
//! | overdue items at end of day | at each clinic day's closing instant `C`, the items created by `C`, due before `C` and not completed by `C`; mean over clinic days | lower |
//! | items routed | items routed on a date of the range (context for the others) | neither |
//!
//! A value with nothing to compute it from is `n/a`, never a division by
//! zero; so is a percent change from a zero baseline. Each value carries
//! its observation count `n` (clinic days, charts, signatures, claims or
//! items).
//!
//! Breakdowns: chart and claim KPIs per pod and per clinician (a claim
//! takes its chart's clinician and pod), the physician-inbox share per pod
//! and category, overdue items and items routed per pod, category and
//! role. The daily series contains every KPI computed over each single date;
//! end-of-day counts are `n/a` on dates without clinic hours. A comparison
//! gives both values, `pilot − baseline`, the percent change and whether
//! the change is better or worse by the direction above.
//!
//! Charts near the end of a range may not be signed yet when the report is
//! made, and leaving them out lowers days-to-close for the most recent
//! range. Compare ranges of equal length with `as_of` well after both.
//!
//! # Model
//!
//! The simulator generates a practice's work and then replays it under a
//! routing function. Generation never depends on routing, so two runs with
//! the same seed see identical arrivals.
//!
//! **Arrivals** (clinic days only, site-local times, daylight-saving
//! correct). Each clinician working that day gets a Poisson number of
//! appointments (mean `volumes.appointments` × their `volume_scale`),
//! capped by the slots of `visit_minutes` in their own hours and placed in
//! uniformly chosen slots. A share `no_show_rate` is missed; an attended
//! visit overruns its slot by 0 to `visit_overrun_minutes` and opens a
//! chart at its end. In-basket items arrive per clinician and category as
//! Poisson counts (`volumes.inbox`), with Monday's messages raised by
//! `monday_message_factor` and the other days lowered to keep the weekly
//! total. Results arrive in a morning (06:00-09:00, 60 %) and a
//! late-afternoon (15:00-18:00) lab batch, messages over 07:00-22:00,
//! refill requests over 09:00-19:00, everything else over clinic hours. A
//! result is critical, abnormal or normal by `results`; critical results
//! are stat and a share `urgent_share` of messages and results is urgent.
//! Results are ordered by the patient's PCP or, for
//! `covering_order_share`, another clinician of the site. Due times follow
//! `due_hours`.
//!
//! **Closing habits.** Each chart draws when its clinician means to close
//! it: 1 to 3 days later (`next_days_share`), 4 to `tail_max_days` days
//! later (`tail_share`), both scaled by the clinician's
//! `closure_multiplier`; otherwise the same day, in the evening session for
//! a share `evening_preference`, else as soon as time allows. A delayed
//! chart becomes workable at local midnight of its day.
//!
//! **Routing.** Items are routed on their arrival date, before anyone works
//! that day, through [`sim::Assign`], which sees the item as a connector
//! reports it and the site's roster. An owner without a person goes to the
//! member of the role in the item's pod (else any pod) with the fewest
//! queued minutes. A routing error sends the item to the clinician the EHR
//! would (ordering clinician of a result, else the PCP) and counts it as
//! unrouted. A visit's chart always goes to its rendering clinician.
//!
//! **Work.** Everyone works only inside their own shifts (or clinic hours)
//! and only up to their role's `capacity_minutes` of queue work per day,
//! spread over their shifts by length: each minute of queue work takes
//! `shift length / capacity` wall minutes, the rest of the time going to
//! visits, rooming or phones. A person always takes, among tasks already
//! available, first urgent items (stat, asap, critical results), then
//! charts past their deadline (`chart_deadline_hours`), then other items
//! and co-signatures by priority and arrival, then charts by visit end.
//! This ordering is what makes in-basket load delay chart closure. Work
//! left unfinished, including a partly done task, carries to the next day.
//! A task finished exactly as a shift closes is stamped one second before
//! the end, inside the hours. Clinicians then work an evening session from
//! `after_hours_start` (or their last shift's end, if later) for at most
//! `after_hours_minutes` and `after_hours_window_hours`; signatures there
//! count as after hours. Staff work before clinicians each day, so that
//! when a non-clinician finishes an item whose kind has `cosign` minutes,
//! the responsible clinician receives a co-signature task the same day.
//! Minutes per item come from `minutes` by work kind and role, else the
//! role's `default_minutes`.
//!
//! **Claims.** A signed chart's claim is submitted on the `claims` lag's
//! clinic day after the signature, at a drawn point of that day's clinic
//! hours; claims past the run's end are not submitted yet.
//!
//! **Warm-up.** A run starts with empty queues and no open charts, so
//! backlog counts climb for the first `signing.tail_max_days` days;
//! [`sim::SimOutput::steady`] is the range after that.
//!
//! **Not modeled**: absences, weekend or day-off work, staff overtime,
//! interruptions that would stop desk work during a visit, item-to-item
//! variation of minutes within a kind and role, claim denials, and the
//! effect of nudges. Defaults, their sources and which are verified,
//! derived or assumed are documented on [`sim::PracticeConfig`]'s
//! `Default` implementation; with them, routing everything to clinicians
//! reproduces about 77 in-basket notifications and 52 inbox minutes per
//! clinician-day, about a third of clinician queue time after hours, and
//! 60-75 % of charts closed the same day (checked by the crate's tests).

pub mod local;
pub mod metrics;
pub mod render;
pub mod sim;
