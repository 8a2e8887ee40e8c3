//! Grouping of segments into patients and orders.
//!
//! HL7 messages nest: a result message may carry several patients (each
//! starting at a PID), and each patient several orders (each starting at an
//! ORC or OBR, with the OBX, TQ1 and NTE segments after it). Groups here are
//! slices of the message's segment list, so grouping allocates only the
//! list of groups.

use crate::parse::Segment;

/// Splits segments into patient blocks, each starting at a PID. Segments
/// before the first PID (MSH, EVN, SCH) start the first block, so a message
/// with one patient, or none, is one block.
pub(crate) fn patient_blocks<'m, 'a>(segments: &'m [Segment<'a>]) -> Vec<&'m [Segment<'a>]> {
    let mut starts: Vec<usize> = segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is("PID"))
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    if starts.len() > 1 && starts[1] > 0 && !segments[..starts[1]].iter().any(is_order_start) {
        // Segments before the first PID hold no order: they belong to it.
        starts.remove(1);
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &start)| &segments[start..starts.get(k + 1).copied().unwrap_or(segments.len())])
        .collect()
}

fn is_order_start(segment: &Segment<'_>) -> bool {
    segment.is("ORC") || segment.is("OBR")
}

/// One order: its ORC and OBR when present, and every segment from its
/// first one to the start of the next order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OrderGroup<'m, 'a> {
    pub(crate) orc: Option<Segment<'a>>,
    pub(crate) obr: Option<Segment<'a>>,
    pub(crate) segments: &'m [Segment<'a>],
}

impl<'m, 'a> OrderGroup<'m, 'a> {
    /// The group's segments named `name`.
    pub(crate) fn all(&self, name: &'m str) -> impl Iterator<Item = Segment<'a>> + 'm {
        self.segments.iter().filter(move |s| s.is(name)).copied()
    }

    /// The group's first segment named `name`.
    pub(crate) fn first(&self, name: &str) -> Option<Segment<'a>> {
        self.segments.iter().find(|s| s.is(name)).copied()
    }
}

/// Segments that start an order group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderStart {
    /// ORC or OBR (results and lab orders). An ORC followed by an OBR is one
    /// group; an OBR without an ORC before it starts its own.
    OrcOrObr,
    /// ORC only (pharmacy orders, whose order detail is RXE, RXO or RXD).
    Orc,
}

/// Splits `segments` into order groups. Segments before the first group
/// are not in any group.
pub(crate) fn order_groups<'m, 'a>(
    segments: &'m [Segment<'a>],
    start: OrderStart,
) -> Vec<OrderGroup<'m, 'a>> {
    let mut groups: Vec<OrderGroup<'m, 'a>> = Vec::new();
    let mut current: Option<(usize, Option<Segment<'a>>, Option<Segment<'a>>)> = None;

    for (i, segment) in segments.iter().enumerate() {
        let is_orc = segment.is("ORC");
        let is_obr = start == OrderStart::OrcOrObr && segment.is("OBR");
        // An OBR right after its ORC (no OBR yet in the group) joins it.
        let joins_orc = matches!(current, Some((_, Some(_), None)));
        if is_orc || (is_obr && !joins_orc) {
            if let Some((from, orc, obr)) = current.take() {
                groups.push(OrderGroup {
                    orc,
                    obr,
                    segments: &segments[from..i],
                });
            }
            current = Some((i, None, None));
        }
        if let Some((_, orc, obr)) = current.as_mut() {
            if is_orc {
                *orc = Some(*segment);
            } else if is_obr && obr.is_none() {
                *obr = Some(*segment);
            }
        }
    }
    if let Some((from, orc, obr)) = current {
        groups.push(OrderGroup {
            orc,
            obr,
            segments: &segments[from..],
        });
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Message;

    fn names(segments: &[Segment<'_>]) -> Vec<String> {
        segments.iter().map(|s| s.name().to_string()).collect()
    }

    #[test]
    fn orc_and_obr_pair_into_one_group() {
        let message = Message::parse(
            "MSH|^~\\&\rPID|1\rORC|RE\rOBR|1\rOBX|1\rOBR|2\rOBX|1\rORC|RE\rTQ1|1\rOBR|3",
        )
        .unwrap();

        let groups = order_groups(message.segments(), OrderStart::OrcOrObr);

        let shapes: Vec<_> = groups
            .iter()
            .map(|g| (g.orc.is_some(), g.obr.is_some(), names(g.segments)))
            .collect();
        assert_eq!(
            shapes,
            [
                (
                    true,
                    true,
                    vec!["ORC".to_string(), "OBR".into(), "OBX".into()]
                ),
                (false, true, vec!["OBR".to_string(), "OBX".into()]),
                (
                    true,
                    true,
                    vec!["ORC".to_string(), "TQ1".into(), "OBR".into()]
                ),
            ]
        );
    }

    #[test]
    fn pharmacy_groups_start_at_orc() {
        let message = Message::parse("MSH|^~\\&\rPID|1\rORC|NW\rRXE|1\rORC|NW\rRXE|2").unwrap();

        let groups = order_groups(message.segments(), OrderStart::Orc);

        assert_eq!(groups.len(), 2);
        assert_eq!(names(groups[1].segments), ["ORC", "RXE"]);
    }

    #[test]
    fn each_pid_starts_a_patient_block() {
        let message = Message::parse("MSH|^~\\&\rPID|1\rOBR|1\rPID|2\rOBR|2").unwrap();

        let blocks = patient_blocks(message.segments());

        assert_eq!(
            blocks.iter().map(|b| names(b)).collect::<Vec<_>>(),
            [vec!["MSH", "PID", "OBR"], vec!["PID", "OBR"]]
        );
    }

    #[test]
    fn message_without_pid_is_one_block() {
        let message = Message::parse("MSH|^~\\&\rOBR|1").unwrap();

        assert_eq!(patient_blocks(message.segments()).len(), 1);
    }
}
