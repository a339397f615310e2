//! Per-thread working memory of the merges, kept from call to call.
//!
//! A merge of 100k rows needs a few MB of table and records; allocating them fresh each time
//! costs more in page faults than the merge itself, so each thread (the JS thread, each libuv
//! pool thread) keeps its last allocation unless it grew past [`MAX_RETAINED_SLOTS`].

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::ids::IdTable;

/// Above this many slots the memory goes back to the allocator after the merge.
pub const MAX_RETAINED_SLOTS: usize = 1 << 21;

/// An id table and one record per slot.
pub struct Scratch<R> {
    pub table: IdTable,
    pub records: Vec<R>,
}

impl<R> Default for Scratch<R> {
    fn default() -> Self {
        Scratch {
            table: IdTable::default(),
            records: Vec::new(),
        }
    }
}

/// Runs `f` with this thread's scratch of type `R`, ready for `capacity` slots.
pub fn with_scratch<R: 'static, T>(
    key: &'static LocalKey<RefCell<Scratch<R>>>,
    capacity: usize,
    f: impl FnOnce(&mut Scratch<R>) -> T,
) -> T {
    key.with(|cell| {
        // A merge never calls another merge of the same kind, so the cell is always free;
        // if that ever changes, fall back to a fresh scratch rather than panic.
        let mut fresh = None;
        let mut guard = cell.try_borrow_mut().ok();
        let scratch: &mut Scratch<R> = match guard.as_deref_mut() {
            Some(s) => s,
            None => fresh.insert(Scratch::default()),
        };
        scratch.table.reset(capacity);
        scratch.records.clear();
        scratch.records.reserve(capacity);
        let out = f(scratch);
        if scratch.table.capacity() > MAX_RETAINED_SLOTS
            || scratch.records.capacity() > MAX_RETAINED_SLOTS
        {
            *scratch = Scratch::default();
        }
        out
    })
}
