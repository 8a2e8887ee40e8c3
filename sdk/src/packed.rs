//! The byte layout of the `policy-packed` interface: route items in, routing
//! outcomes out.
//!
//! The layout is specified next to the interface in `wit/switchboard.wit`.
//! The host packs items and unpacks outcomes; a component built with this
//! SDK does the reverse. Both sides use this module, so they cannot drift
//! apart.
//!
//! Unpacking checks everything: lengths against the bytes left, UTF-8,
//! enum cases, tags, and that nothing follows the last record. The host
//! reads outcomes from a plugin it does not trust, so a bad byte must give
//! an error that names its offset, not a panic or a wrong outcome.

use crate::types::{
    Assignment, Attribute, Category, Priority, ResultFlag, RouteError, RouteItem, Timestamp,
};

/// The format byte that opens both layouts.
pub const FORMAT: u8 = 1;

/// Outcome tags, in the order of the layout.
const TAG_ASSIGNMENT: u8 = 0;
const TAG_NO_MATCH: u8 = 1;
const TAG_NO_OWNER: u8 = 2;
const TAG_INVALID_ITEM: u8 = 3;

/// An error for bytes that do not match the layout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("packed {layout} unreadable at byte {offset}: {problem}")]
pub struct PackedError {
    /// The layout being read: `items` or `outcomes`.
    pub layout: &'static str,
    /// Position of the first byte that could not be read.
    pub offset: usize,
    /// The problem found there.
    pub problem: String,
}

/// One routing outcome.
pub type Outcome = Result<Assignment, RouteError>;

/// Appends the packed form of `items` to `out`.
///
/// # Panics
///
/// When a batch has more than `u32::MAX` items, or a string or attribute
/// list is longer than `u32::MAX`: far past any batch the host sends.
pub fn pack_items(items: &[RouteItem], out: &mut Vec<u8>) {
    out.reserve(5 + items.iter().map(packed_item_len).sum::<usize>());
    out.push(FORMAT);
    put_len(out, items.len());
    for item in items {
        let view = ItemView::of(item);
        let attributes = item
            .attributes
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str()));
        put_item(out, &view, attributes);
    }
}

/// The fields of a route item, borrowed from wherever they are, for
/// [`Packer::push`].
#[derive(Clone, Copy, Debug)]
pub struct ItemView<'a> {
    /// The host's item number.
    pub key: u64,
    /// Kind of work.
    pub category: Category,
    /// Result interpretation.
    pub flag: ResultFlag,
    /// Priority.
    pub priority: Priority,
    /// When the work appeared in the EHR.
    pub created: Timestamp,
    /// When the EHR wants it done.
    pub due: Option<Timestamp>,
    /// EHR patient reference.
    pub patient: Option<&'a str>,
    /// Roster id of the ordering provider.
    pub ordering: Option<&'a str>,
    /// Roster id of the rendering clinician.
    pub rendering: Option<&'a str>,
    /// Roster id of the primary-care provider.
    pub pcp: Option<&'a str>,
}

impl<'a> ItemView<'a> {
    /// Borrows the fields of `item`.
    pub fn of(item: &'a RouteItem) -> Self {
        ItemView {
            key: item.key,
            category: item.category,
            flag: item.flag,
            priority: item.priority,
            created: item.created,
            due: item.due,
            patient: item.patient.as_deref(),
            ordering: item.ordering.as_deref(),
            rendering: item.rendering.as_deref(),
            pcp: item.pcp.as_deref(),
        }
    }

    /// Copies the fields into an owned [`RouteItem`] with `attributes`.
    pub fn to_route_item(&self, attributes: Vec<Attribute>) -> RouteItem {
        let owned = |text: Option<&str>| text.map(str::to_string);
        RouteItem {
            key: self.key,
            category: self.category,
            flag: self.flag,
            priority: self.priority,
            created: self.created,
            due: self.due,
            patient: owned(self.patient),
            ordering: owned(self.ordering),
            rendering: owned(self.rendering),
            pcp: owned(self.pcp),
            attributes,
        }
    }
}

/// Packs a batch one item at a time, for callers that hold items in
/// another form than [`RouteItem`], such as lines of JSON, so that no
/// owned copy is built on the way.
#[derive(Debug)]
pub struct Packer {
    list: List,
}

impl Default for Packer {
    fn default() -> Self {
        Packer::new()
    }
}

impl Packer {
    /// Starts an empty batch.
    pub fn new() -> Self {
        Packer {
            list: List::with_capacity(0),
        }
    }

    /// Appends one item with its attributes as (key, value) pairs.
    ///
    /// # Panics
    ///
    /// As for [`pack_items`], on lengths past `u32::MAX`.
    pub fn push<'a>(
        &mut self,
        item: &ItemView<'_>,
        attributes: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) {
        put_item(&mut self.list.bytes, item, attributes);
        self.list.count_one();
    }

    /// Items pushed so far.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no item was pushed.
    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    /// Returns the packed batch, in the layout that [`pack_items`] writes.
    pub fn bytes(&mut self) -> &[u8] {
        self.list.patch_count();
        &self.list.bytes
    }

    /// Empties the batch and keeps its buffer.
    pub fn clear(&mut self) {
        self.list.bytes.truncate(5);
        self.list.count = 0;
    }
}

/// Appends one item record.
fn put_item<'a>(
    out: &mut Vec<u8>,
    item: &ItemView<'_>,
    attributes: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) {
    out.extend_from_slice(&item.key.to_le_bytes());
    out.extend_from_slice(&[item.category as u8, item.flag as u8, item.priority as u8]);
    out.extend_from_slice(&item.created.0.to_le_bytes());
    put_opt_time(out, item.due);
    for text in [item.patient, item.ordering, item.rendering, item.pcp] {
        put_opt_str(out, text);
    }
    put_len(out, attributes.len());
    for (key, value) in attributes {
        put_str(out, key);
        put_str(out, value);
    }
}

/// Reads the items that [`pack_items`] wrote.
///
/// # Errors
///
/// A [`PackedError`] naming the first byte that does not fit the layout.
pub fn unpack_items(bytes: &[u8]) -> Result<Vec<RouteItem>, PackedError> {
    Reader::new(bytes).read_all("items", Reader::items)
}

/// Route items that stay allocated from one batch to the next.
///
/// Unpacking a batch into a `Vec<RouteItem>` allocates each item's strings
/// and attribute list, and routing frees them again: about a dozen blocks
/// per item. A component keeps one buffer for its lifetime and overwrites
/// the strings of earlier batches in place, so after the first batches an
/// item costs no allocation. The buffer keeps as many items, and strings as
/// long, as the largest batch so far. The host replaces instances after a
/// set number of calls, which bounds that.
#[derive(Debug, Default)]
pub struct ItemBuffer {
    items: Vec<RouteItem>,
}

impl ItemBuffer {
    /// Creates an empty buffer.
    pub fn new() -> Self {
        ItemBuffer::default()
    }

    /// Reads the items that [`pack_items`] wrote into the buffer and
    /// returns them.
    ///
    /// # Errors
    ///
    /// A [`PackedError`] naming the first byte that does not fit the
    /// layout. The buffer's contents are then unspecified but valid.
    pub fn unpack(&mut self, bytes: &[u8]) -> Result<&[RouteItem], PackedError> {
        let count = Reader::new(bytes).read_all("items", |r| r.items_into(&mut self.items))?;
        Ok(&self.items[..count])
    }

    /// Like [`ItemBuffer::unpack`], but without checking that strings are
    /// UTF-8 in release builds.
    ///
    /// A component uses this for the batch its host packed: the generated
    /// bindings of the typed interface trust the host's strings the same
    /// way.
    ///
    /// # Errors
    ///
    /// As for [`ItemBuffer::unpack`].
    ///
    /// # Safety
    ///
    /// Every string in `bytes` must be valid UTF-8, as in any output of
    /// [`pack_items`].
    #[allow(unsafe_code)]
    pub unsafe fn unpack_from_host(&mut self, bytes: &[u8]) -> Result<&[RouteItem], PackedError> {
        let mut reader = Reader::new(bytes);
        reader.trusted = true;
        let count = reader.read_all("items", |r| r.items_into(&mut self.items))?;
        Ok(&self.items[..count])
    }
}

/// Appends the packed form of `outcomes` to `out`.
///
/// # Panics
///
/// As for [`pack_items`], on lengths past `u32::MAX`.
pub fn pack_outcomes(outcomes: &[Outcome], out: &mut Vec<u8>) {
    // Reserved exactly: a guest packs inside its memory cap, and a growing
    // buffer would briefly need its old and new copies at once.
    out.reserve(5 + outcomes.iter().map(packed_outcome_len).sum::<usize>());
    out.push(FORMAT);
    put_len(out, outcomes.len());
    for outcome in outcomes {
        put_outcome(out, outcome.as_ref().map(AssignmentRef::of));
    }
}

/// The fields of an [`Assignment`], borrowed, so that a policy can write
/// an outcome from its own tables without allocating four strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssignmentRef<'a> {
    /// Role that owns the item.
    pub role: &'a str,
    /// Person within the role, when the policy picked one.
    pub person: Option<&'a str>,
    /// Priority after the policy's adjustments.
    pub priority: Priority,
    /// When the owner should have it done.
    pub due: Option<Timestamp>,
    /// Why, for the audit trail.
    pub reason: &'a str,
    /// Name of the rule that decided.
    pub rule: &'a str,
}

impl<'a> AssignmentRef<'a> {
    /// Borrows the fields of `assignment`.
    pub fn of(assignment: &'a Assignment) -> Self {
        AssignmentRef {
            role: &assignment.role,
            person: assignment.person.as_deref(),
            priority: assignment.priority,
            due: assignment.due,
            reason: &assignment.reason,
            rule: &assignment.rule,
        }
    }

    /// Copies the fields into an owned [`Assignment`].
    pub fn to_assignment(&self) -> Assignment {
        Assignment {
            role: self.role.to_string(),
            person: self.person.map(str::to_string),
            priority: self.priority,
            due: self.due,
            reason: self.reason.to_string(),
            rule: self.rule.to_string(),
        }
    }
}

/// Writes routing outcomes one at a time, in the layout that
/// [`pack_outcomes`] writes. See [`crate::Policy::route_into`].
#[derive(Debug)]
pub struct OutcomeWriter {
    list: List,
}

impl OutcomeWriter {
    /// Starts an empty list with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        OutcomeWriter {
            list: List::with_capacity(capacity),
        }
    }

    /// Appends an assignment.
    ///
    /// # Panics
    ///
    /// As for [`pack_items`], on lengths past `u32::MAX`.
    pub fn assignment(&mut self, assignment: AssignmentRef<'_>) {
        self.push_ref(Ok(assignment));
    }

    /// Appends an error.
    ///
    /// # Panics
    ///
    /// As for [`pack_items`], on lengths past `u32::MAX`.
    pub fn error(&mut self, error: &RouteError) {
        self.push_ref(Err(error));
    }

    /// Appends an owned outcome.
    ///
    /// # Panics
    ///
    /// As for [`pack_items`], on lengths past `u32::MAX`.
    pub fn push(&mut self, outcome: &Outcome) {
        self.push_ref(outcome.as_ref().map(AssignmentRef::of));
    }

    fn push_ref(&mut self, outcome: Result<AssignmentRef<'_>, &RouteError>) {
        put_outcome(&mut self.list.bytes, outcome);
        self.list.count_one();
    }

    /// Outcomes written so far.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    /// Returns the packed list.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.list.patch_count();
        self.list.bytes
    }
}

/// A packed list being built record by record: the format byte, a count
/// written in when the list is read, and the records.
#[derive(Debug)]
struct List {
    bytes: Vec<u8>,
    count: u32,
}

impl List {
    fn with_capacity(capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(capacity.max(5));
        bytes.extend_from_slice(&[FORMAT, 0, 0, 0, 0]);
        List { bytes, count: 0 }
    }

    /// Counts a record just appended to `bytes`.
    ///
    /// # Panics
    ///
    /// Past `u32::MAX` records.
    fn count_one(&mut self) {
        self.count = self
            .count
            .checked_add(1)
            .expect("packed lengths fit in 32 bits");
    }

    fn len(&self) -> usize {
        self.count as usize
    }

    /// Writes the record count into the header.
    fn patch_count(&mut self) {
        self.bytes[1..5].copy_from_slice(&self.count.to_le_bytes());
    }
}

/// Appends one outcome record.
fn put_outcome(out: &mut Vec<u8>, outcome: Result<AssignmentRef<'_>, &RouteError>) {
    match outcome {
        Ok(assignment) => {
            out.push(TAG_ASSIGNMENT);
            put_str(out, assignment.role);
            put_opt_str(out, assignment.person);
            out.push(assignment.priority as u8);
            put_opt_time(out, assignment.due);
            put_str(out, assignment.reason);
            put_str(out, assignment.rule);
        }
        Err(error) => {
            let (tag, message) = match error {
                RouteError::NoMatch(m) => (TAG_NO_MATCH, m),
                RouteError::NoOwner(m) => (TAG_NO_OWNER, m),
                RouteError::InvalidItem(m) => (TAG_INVALID_ITEM, m),
            };
            out.push(tag);
            put_str(out, message);
        }
    }
}

/// Reads the outcomes that [`pack_outcomes`] wrote.
///
/// # Errors
///
/// A [`PackedError`] naming the first byte that does not fit the layout.
pub fn unpack_outcomes(bytes: &[u8]) -> Result<Vec<Outcome>, PackedError> {
    Reader::new(bytes).read_all("outcomes", Reader::outcomes)
}

/// Bytes [`pack_items`] writes for `item`.
fn packed_item_len(item: &RouteItem) -> usize {
    let texts = [&item.patient, &item.ordering, &item.rendering, &item.pcp];
    let optional: usize = texts
        .iter()
        .map(|t| 1 + t.as_ref().map_or(0, |t| 4 + t.len()))
        .sum();
    let attributes: usize = item
        .attributes
        .iter()
        .map(|a| 8 + a.key.len() + a.value.len())
        .sum();
    28 + item.due.map_or(0, |_| 8) + optional - 4 + attributes
}

/// Bytes [`pack_outcomes`] writes for `outcome`.
fn packed_outcome_len(outcome: &Outcome) -> usize {
    match outcome {
        Ok(a) => {
            let person = a.person.as_ref().map_or(0, |p| 4 + p.len());
            1 + 4
                + a.role.len()
                + 1
                + person
                + 1
                + 1
                + a.due.map_or(0, |_| 8)
                + 4
                + a.reason.len()
                + 4
                + a.rule.len()
        }
        Err(RouteError::NoMatch(m) | RouteError::NoOwner(m) | RouteError::InvalidItem(m)) => {
            5 + m.len()
        }
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("packed lengths fit in 32 bits");
    out.extend_from_slice(&len.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_len(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
        None => out.push(0),
    }
}

fn put_opt_time(out: &mut Vec<u8>, time: Option<Timestamp>) {
    match time {
        Some(time) => {
            out.push(1);
            out.extend_from_slice(&time.0.to_le_bytes());
        }
        None => out.push(0),
    }
}

/// Returns a placeholder item for [`Reader::item_into`] to overwrite.
fn empty_item() -> RouteItem {
    RouteItem {
        key: 0,
        category: Category::Other,
        flag: ResultFlag::None,
        priority: Priority::Routine,
        created: Timestamp(0),
        due: None,
        patient: None,
        ordering: None,
        rendering: None,
        pcp: None,
        attributes: Vec::new(),
    }
}

/// A cursor over packed bytes. A read that fails records what went wrong
/// and where in `fault` and returns [`Stop`]; the caller turns the fault
/// into a [`PackedError`] once. Keeping the error out of every `Result`
/// keeps each read a bounds check and a load, which matters inside a
/// component, where this runs for every item of every batch.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    fault: Option<(usize, Fault)>,
    /// Strings are known to be UTF-8 (see [`unpack_items_from_host`]).
    trusted: bool,
}

/// A marker for a failed read. The reader's `fault` records the cause.
struct Stop;

/// The problem a failed read found.
enum Fault {
    Short {
        needed: usize,
        left: usize,
    },
    Format(u8),
    Count {
        count: usize,
        left: usize,
    },
    Option(u8),
    Utf8,
    Case {
        name: &'static str,
        code: u8,
        cases: usize,
    },
    Tag(u8),
    Trailing(usize),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Short { needed, left } => {
                write!(f, "needs {needed} more bytes but only {left} are left")
            }
            Fault::Format(format) => write!(f, "format {format}, expected {FORMAT}"),
            Fault::Count { count, left } => {
                write!(f, "count {count} cannot fit in the {left} bytes left")
            }
            Fault::Option(byte) => write!(f, "option byte {byte}, expected 0 or 1"),
            Fault::Utf8 => f.write_str("string is not valid UTF-8"),
            Fault::Case { name, code, cases } => {
                write!(f, "{name} {code}, expected below {cases}")
            }
            Fault::Tag(tag) => write!(f, "outcome tag {tag}, expected 0 to 3"),
            Fault::Trailing(left) => write!(f, "{left} bytes follow the last record"),
        }
    }
}

type Read<T> = Result<T, Stop>;

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            at: 0,
            fault: None,
            trusted: false,
        }
    }

    /// Runs `read` over the whole input and checks nothing follows.
    fn read_all<T>(
        mut self,
        layout: &'static str,
        read: impl FnOnce(&mut Self) -> Read<T>,
    ) -> Result<T, PackedError> {
        let value = read(&mut self).and_then(|value| {
            let left = self.bytes.len() - self.at;
            if left > 0 {
                return self.fail(self.at, Fault::Trailing(left));
            }
            Ok(value)
        });
        value.map_err(|Stop| {
            let (offset, fault) = self.fault.take().expect("a stopped read records its fault");
            PackedError {
                layout,
                offset,
                problem: fault.to_string(),
            }
        })
    }

    #[cold]
    #[inline(never)]
    fn fail<T>(&mut self, offset: usize, fault: Fault) -> Read<T> {
        self.fault = Some((offset, fault));
        Err(Stop)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        match self.bytes.get(self.at..).and_then(|rest| rest.get(..n)) {
            Some(taken) => {
                self.at += n;
                Ok(taken)
            }
            None => {
                let left = self.bytes.len() - self.at;
                self.fail(self.at, Fault::Short { needed: n, left })
            }
        }
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    #[inline]
    fn byte(&mut self) -> Read<u8> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    fn u32(&mut self) -> Read<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    #[inline]
    fn u64(&mut self) -> Read<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    #[inline]
    fn time(&mut self) -> Read<Timestamp> {
        Ok(Timestamp(i64::from_le_bytes(self.array()?)))
    }

    /// Reads the format byte and the record count.
    fn header(&mut self) -> Read<u32> {
        let format = self.byte()?;
        if format != FORMAT {
            return self.fail(0, Fault::Format(format));
        }
        self.u32()
    }

    /// `count`, just read, as a capacity, after checking that `count`
    /// records of at least `min_size` bytes fit in what is left.
    #[inline]
    fn bounded_count(&mut self, count: u32, min_size: usize) -> Read<usize> {
        let left = self.bytes.len() - self.at;
        let count = count as usize;
        if count.saturating_mul(min_size) > left {
            return self.fail(self.at - 4, Fault::Count { count, left });
        }
        Ok(count)
    }

    #[inline]
    fn present(&mut self) -> Read<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            other => self.fail(self.at - 1, Fault::Option(other)),
        }
    }

    #[inline]
    fn str(&mut self) -> Read<&'a str> {
        let len = self.u32()? as usize;
        let start = self.at;
        let bytes = self.take(len)?;
        if self.trusted && !cfg!(debug_assertions) {
            // SAFETY: `trusted` is set only by `ItemBuffer::unpack_from_host`,
            // whose caller promises that every string is UTF-8.
            #[allow(unsafe_code)]
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(error) => self.fail(start + error.valid_up_to(), Fault::Utf8),
        }
    }

    #[inline]
    fn string(&mut self) -> Read<String> {
        self.str().map(str::to_owned)
    }

    /// Reads a string into `slot`, reusing its allocation.
    #[inline]
    fn string_into(&mut self, slot: &mut String) -> Read<()> {
        let text = self.str()?;
        slot.clear();
        slot.push_str(text);
        Ok(())
    }

    /// Reads an optional string into `slot`, reusing its allocation when
    /// both the old and the new value are present.
    #[inline]
    fn opt_string_into(&mut self, slot: &mut Option<String>) -> Read<()> {
        if !self.present()? {
            *slot = None;
            return Ok(());
        }
        match slot {
            Some(old) => self.string_into(old),
            None => {
                *slot = Some(self.string()?);
                Ok(())
            }
        }
    }

    #[inline]
    fn opt_string(&mut self) -> Read<Option<String>> {
        if self.present()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }

    #[inline]
    fn opt_time(&mut self) -> Read<Option<Timestamp>> {
        if self.present()? {
            self.time().map(Some)
        } else {
            Ok(None)
        }
    }

    #[inline]
    fn case<T: Copy>(&mut self, all: &[T], name: &'static str) -> Read<T> {
        let code = self.byte()?;
        match all.get(code as usize) {
            Some(case) => Ok(*case),
            None => {
                let cases = all.len();
                self.fail(self.at - 1, Fault::Case { name, code, cases })
            }
        }
    }

    /// Reads the header and then its count of records with `read`, each at
    /// least `min_size` bytes long, so that a count the bytes cannot hold
    /// fails before memory is reserved for it.
    fn records<T>(&mut self, min_size: usize, read: fn(&mut Self) -> Read<T>) -> Read<Vec<T>> {
        let count = self.header()?;
        let mut records = Vec::with_capacity(self.bounded_count(count, min_size)?);
        for _ in 0..count {
            records.push(read(self)?);
        }
        Ok(records)
    }

    fn items(&mut self) -> Read<Vec<RouteItem>> {
        let mut items = Vec::new();
        let count = self.items_into(&mut items)?;
        items.truncate(count);
        Ok(items)
    }

    /// Reads a batch into `items`, overwriting the first entries in place
    /// and adding entries when the batch is longer. Returns the batch's
    /// length; entries past it are left from earlier batches.
    fn items_into(&mut self, items: &mut Vec<RouteItem>) -> Read<usize> {
        let count = self.header()?;
        // An item with no due time, strings or attributes takes 28 bytes.
        let count = self.bounded_count(count, 28)?;
        if items.len() < count {
            items.resize_with(count, empty_item);
        }
        for item in &mut items[..count] {
            self.item_into(item)?;
        }
        Ok(count)
    }

    fn item_into(&mut self, item: &mut RouteItem) -> Read<()> {
        item.key = self.u64()?;
        item.category = self.case(Category::ALL, "category")?;
        item.flag = self.case(ResultFlag::ALL, "result-flag")?;
        item.priority = self.case(Priority::ALL, "priority")?;
        item.created = self.time()?;
        item.due = self.opt_time()?;
        self.opt_string_into(&mut item.patient)?;
        self.opt_string_into(&mut item.ordering)?;
        self.opt_string_into(&mut item.rendering)?;
        self.opt_string_into(&mut item.pcp)?;

        let count = self.u32()?;
        let count = self.bounded_count(count, 8)?;
        let attributes = &mut item.attributes;
        attributes.truncate(count);
        for attribute in attributes.iter_mut() {
            self.string_into(&mut attribute.key)?;
            self.string_into(&mut attribute.value)?;
        }
        for _ in attributes.len()..count {
            let key = self.string()?;
            let value = self.string()?;
            attributes.push(Attribute { key, value });
        }
        Ok(())
    }

    fn outcomes(&mut self) -> Read<Vec<Outcome>> {
        // An error outcome with an empty message takes 5 bytes.
        self.records(5, Reader::outcome)
    }

    fn outcome(&mut self) -> Read<Outcome> {
        let error = match self.byte()? {
            TAG_ASSIGNMENT => return self.assignment().map(Ok),
            TAG_NO_MATCH => RouteError::NoMatch,
            TAG_NO_OWNER => RouteError::NoOwner,
            TAG_INVALID_ITEM => RouteError::InvalidItem,
            other => return self.fail(self.at - 1, Fault::Tag(other)),
        };
        self.string().map(|message| Err(error(message)))
    }

    fn assignment(&mut self) -> Read<Assignment> {
        let role = self.string()?;
        let person = self.opt_string()?;
        let priority = self.case(Priority::ALL, "priority")?;
        let due = self.opt_time()?;
        let reason = self.string()?;
        let rule = self.string()?;
        Ok(Assignment {
            role,
            person,
            priority,
            due,
            reason,
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(key: u64) -> RouteItem {
        RouteItem {
            key,
            category: Category::Result,
            flag: ResultFlag::Abnormal,
            priority: Priority::Stat,
            created: Timestamp(1_767_225_600_000),
            due: Some(Timestamp(-5)),
            patient: Some("Patient/é-1".into()),
            ordering: Some("dr-ames".into()),
            rendering: None,
            pcp: Some(String::new()),
            attributes: vec![Attribute {
                key: "loinc".into(),
                value: "2093-3".into(),
            }],
        }
    }

    fn assignment() -> Assignment {
        Assignment {
            role: "physician".into(),
            person: Some("dr-ames".into()),
            priority: Priority::Urgent,
            due: None,
            reason: "rule abnormal: ordering physician".into(),
            rule: "abnormal".into(),
        }
    }

    #[test]
    fn enum_codes_are_positions_in_wit_order() {
        for (position, category) in Category::ALL.iter().enumerate() {
            assert_eq!(*category as u8 as usize, position);
        }
        for (position, flag) in ResultFlag::ALL.iter().enumerate() {
            assert_eq!(*flag as u8 as usize, position);
        }
        for (position, priority) in Priority::ALL.iter().enumerate() {
            assert_eq!(*priority as u8 as usize, position);
        }
    }

    #[test]
    fn item_packs_to_documented_bytes() {
        let mut item = item(7);
        item.patient = None;
        item.ordering = Some("ab".into());
        item.pcp = None;
        item.attributes.truncate(0);
        let mut bytes = Vec::new();
        pack_items(&[item], &mut bytes);

        let mut expected = vec![1, 1, 0, 0, 0];
        expected.extend_from_slice(&7u64.to_le_bytes());
        expected.extend_from_slice(&[1, 2, 3]);
        expected.extend_from_slice(&1_767_225_600_000i64.to_le_bytes());
        expected.push(1);
        expected.extend_from_slice(&(-5i64).to_le_bytes());
        expected.extend_from_slice(&[0, 1, 2, 0, 0, 0, b'a', b'b', 0, 0]);
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn error_outcome_packs_to_documented_bytes() {
        let mut bytes = Vec::new();
        pack_outcomes(&[Err(RouteError::NoOwner("x".into()))], &mut bytes);
        assert_eq!(bytes, [1, 1, 0, 0, 0, 2, 1, 0, 0, 0, b'x']);
    }

    #[test]
    fn items_and_outcomes_survive_a_round_trip() {
        let items = vec![item(1), item(u64::MAX)];
        let mut bytes = Vec::new();
        pack_items(&items, &mut bytes);
        assert_eq!(unpack_items(&bytes).unwrap(), items);

        let outcomes = vec![
            Ok(assignment()),
            Err(RouteError::NoMatch("no rule".into())),
            Err(RouteError::InvalidItem(String::new())),
        ];
        let mut bytes = Vec::new();
        pack_outcomes(&outcomes, &mut bytes);
        assert_eq!(unpack_outcomes(&bytes).unwrap(), outcomes);
    }

    #[test]
    fn reserved_lengths_are_exact() {
        let items = vec![
            item(1),
            RouteItem {
                due: None,
                attributes: Vec::new(),
                ..item(2)
            },
        ];
        let mut bytes = Vec::new();
        pack_items(&items, &mut bytes);
        assert_eq!(
            bytes.len(),
            5 + items.iter().map(packed_item_len).sum::<usize>()
        );

        let outcomes = vec![
            Ok(assignment()),
            Ok(Assignment {
                person: None,
                due: Some(Timestamp(1)),
                ..assignment()
            }),
            Err(RouteError::NoOwner("nobody".into())),
        ];
        let mut bytes = Vec::new();
        pack_outcomes(&outcomes, &mut bytes);
        assert_eq!(
            bytes.len(),
            5 + outcomes.iter().map(packed_outcome_len).sum::<usize>()
        );
    }

    #[test]
    #[allow(unsafe_code)]
    fn items_from_host_read_like_checked_items() {
        let items = vec![item(1), item(2)];
        let mut bytes = Vec::new();
        pack_items(&items, &mut bytes);
        let mut buffer = ItemBuffer::new();

        // SAFETY: `pack_items` wrote every string from a `&str`.
        let read = unsafe { buffer.unpack_from_host(&bytes) };

        assert_eq!(read.unwrap(), items);
        // SAFETY: the cut shortens the last string below its length
        // prefix, so the read fails before converting it.
        let short = unsafe { buffer.unpack_from_host(&bytes[..bytes.len() - 1]) };
        assert!(short.is_err());
    }

    /// Batches of different lengths and shapes, unpacked one after another
    /// into one buffer, each read back exactly, whatever the earlier
    /// batches left in the buffer's spare entries.
    #[test]
    fn item_buffer_reads_each_batch_exactly() {
        let full = item(1);
        let bare = RouteItem {
            due: None,
            patient: None,
            ordering: None,
            rendering: None,
            pcp: None,
            attributes: Vec::new(),
            ..item(2)
        };
        let long = RouteItem {
            patient: Some("Patient/a-much-longer-reference-than-before".into()),
            rendering: Some("np-ortiz".into()),
            attributes: vec![
                Attribute {
                    key: "loinc".into(),
                    value: "718-7".into(),
                },
                Attribute {
                    key: "panel".into(),
                    value: String::new(),
                },
                Attribute {
                    key: "loinc".into(),
                    value: "second".into(),
                },
            ],
            ..item(3)
        };
        let batches = [
            vec![full.clone(), long.clone(), bare.clone()],
            vec![bare.clone()],
            vec![long.clone(), full.clone()],
            vec![],
            vec![bare.clone(), long.clone(), full.clone(), long.clone()],
            vec![full.clone()],
        ];

        let mut buffer = ItemBuffer::new();
        for batch in &batches {
            let mut bytes = Vec::new();
            pack_items(batch, &mut bytes);
            assert_eq!(buffer.unpack(&bytes).unwrap(), batch.as_slice());
        }
    }

    #[test]
    fn item_buffer_errors_match_unpack_items() {
        let mut bytes = Vec::new();
        pack_items(&[item(1)], &mut bytes);
        let category = 1 + 4 + 8;
        bytes[category] = 40;
        let mut buffer = ItemBuffer::new();

        let error = buffer.unpack(&bytes).unwrap_err();

        assert_eq!(error, unpack_items(&bytes).unwrap_err());
        assert_eq!(error.offset, category);
    }

    #[test]
    fn outcome_writer_writes_what_pack_outcomes_writes() {
        let outcomes = vec![
            Ok(assignment()),
            Err(RouteError::NoMatch("no rule".into())),
            Ok(Assignment {
                person: None,
                due: Some(Timestamp(-1)),
                ..assignment()
            }),
        ];
        let mut expected = Vec::new();
        pack_outcomes(&outcomes, &mut expected);

        let mut writer = OutcomeWriter::with_capacity(0);
        writer.assignment(AssignmentRef::of(outcomes[0].as_ref().unwrap()));
        writer.error(outcomes[1].as_ref().unwrap_err());
        writer.push(&outcomes[2]);

        assert_eq!(writer.len(), 3);
        assert_eq!(writer.into_bytes(), expected);
        assert_eq!(
            AssignmentRef::of(&assignment()).to_assignment(),
            assignment()
        );
    }

    #[test]
    fn outcome_writer_empty_list() {
        let writer = OutcomeWriter::with_capacity(64);
        assert!(writer.is_empty());
        assert_eq!(writer.into_bytes(), [FORMAT, 0, 0, 0, 0]);
    }

    #[test]
    fn packer_writes_what_pack_items_writes() {
        let items = vec![
            item(1),
            RouteItem {
                due: None,
                patient: None,
                ..item(2)
            },
        ];
        let mut expected = Vec::new();
        pack_items(&items, &mut expected);

        let mut packer = Packer::new();
        packer.push(
            &ItemView {
                key: 9,
                ..ItemView::of(&items[0])
            },
            std::iter::empty(),
        );
        packer.clear();
        for item in &items {
            let attributes = item
                .attributes
                .iter()
                .map(|a| (a.key.as_str(), a.value.as_str()));
            packer.push(&ItemView::of(item), attributes);
        }

        assert_eq!(packer.len(), 2);
        assert_eq!(packer.bytes(), expected.as_slice());
    }

    #[test]
    fn empty_batch_is_five_bytes() {
        let mut bytes = Vec::new();
        pack_outcomes(&[], &mut bytes);
        assert_eq!(bytes, [1, 0, 0, 0, 0]);
        assert_eq!(unpack_outcomes(&bytes).unwrap(), Vec::new());
    }

    fn outcome_bytes() -> Vec<u8> {
        let mut bytes = Vec::new();
        pack_outcomes(&[Ok(assignment())], &mut bytes);
        bytes
    }

    #[test]
    fn bad_bytes_are_named_by_offset() {
        let cases: Vec<(Vec<u8>, usize, &str)> = vec![
            (vec![], 0, "needs 1 more bytes but only 0 are left"),
            (vec![2, 0, 0, 0, 0], 0, "format 2, expected 1"),
            (
                vec![1, 9, 0, 0, 0],
                1,
                "count 9 cannot fit in the 0 bytes left",
            ),
            (
                vec![1, 1, 0, 0, 0, 4, 0, 0, 0, 0],
                5,
                "outcome tag 4, expected 0 to 3",
            ),
            (
                vec![1, 1, 0, 0, 0, 1, 9, 0, 0, 0, b'x'],
                10,
                "needs 9 more bytes but only 1 are left",
            ),
            (
                vec![1, 1, 0, 0, 0, 1, 2, 0, 0, 0, b'x', 0xff],
                11,
                "string is not valid UTF-8",
            ),
        ];
        for (bytes, offset, problem) in cases {
            let error = unpack_outcomes(&bytes).unwrap_err();
            assert_eq!(
                (error.offset, error.problem.as_str()),
                (offset, problem),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn bad_case_or_option_byte_rejected() {
        let good = outcome_bytes();
        // The tag is at 5 and the role "physician" takes 4 + 9 bytes, so
        // the person's option byte is at 19.
        let mut bad_option = good.clone();
        bad_option[19] = 2;
        let error = unpack_outcomes(&bad_option).unwrap_err();
        assert_eq!(
            (error.offset, error.problem.as_str()),
            (19, "option byte 2, expected 0 or 1")
        );

        // The priority follows the person "dr-ames": 19 + 1 + 4 + 7.
        let mut bad_priority = good.clone();
        bad_priority[31] = 4;
        let error = unpack_outcomes(&bad_priority).unwrap_err();
        assert_eq!(
            (error.offset, error.problem.as_str()),
            (31, "priority 4, expected below 4")
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = outcome_bytes();
        let end = bytes.len();
        bytes.push(0);
        let error = unpack_outcomes(&bytes).unwrap_err();
        assert_eq!(error.offset, end);
        assert_eq!(
            error.to_string(),
            format!("packed outcomes unreadable at byte {end}: 1 bytes follow the last record")
        );
    }

    fn any_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9/é -]{0,12}"
    }

    fn any_item() -> impl Strategy<Value = RouteItem> {
        (
            any::<u64>(),
            (
                0..Category::ALL.len(),
                0..ResultFlag::ALL.len(),
                0..Priority::ALL.len(),
            ),
            (any::<i64>(), proptest::option::of(any::<i64>())),
            proptest::array::uniform4(proptest::option::of(any_text())),
            proptest::collection::vec((any_text(), any_text()), 0..4),
        )
            .prop_map(|(key, (c, f, p), (created, due), texts, attributes)| {
                let [patient, ordering, rendering, pcp] = texts;
                RouteItem {
                    key,
                    category: Category::ALL[c],
                    flag: ResultFlag::ALL[f],
                    priority: Priority::ALL[p],
                    created: Timestamp(created),
                    due: due.map(Timestamp),
                    patient,
                    ordering,
                    rendering,
                    pcp,
                    attributes: attributes
                        .into_iter()
                        .map(|(key, value)| Attribute { key, value })
                        .collect(),
                }
            })
    }

    proptest! {
        #[test]
        fn any_items_round_trip(items in proptest::collection::vec(any_item(), 0..8)) {
            let mut bytes = Vec::new();
            pack_items(&items, &mut bytes);
            prop_assert_eq!(unpack_items(&bytes).unwrap(), items);
        }

        /// Cutting packed items anywhere short of the end is an error, never
        /// a panic or a shorter batch.
        #[test]
        fn any_truncation_is_an_error(items in proptest::collection::vec(any_item(), 1..4), cut in 0usize..1000) {
            let mut bytes = Vec::new();
            pack_items(&items, &mut bytes);
            let cut = cut % bytes.len();
            prop_assert!(unpack_items(&bytes[..cut]).is_err());
        }

        /// Random bytes are read or rejected without a panic.
        #[test]
        fn any_bytes_are_read_or_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = unpack_outcomes(&bytes);
            let _ = unpack_items(&bytes);
        }
    }
}
