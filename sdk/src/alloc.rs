//! A size-class allocator for components, installed as the global
//! allocator of wasm32 builds unless the `small-alloc` feature is off.
//!
//! A component call allocates many small blocks. The canonical ABI calls
//! the guest's allocator once for each string and list it passes in, the
//! bindings build `String`s and `Vec`s from those blocks, and the results
//! are copied out and freed after the call. The wasm target's default
//! allocator (dlmalloc from wasi-libc) spends more than a hundred
//! instructions on each, an estimate from the route benchmark's
//! instruction counts. This allocator keeps a free list per power-of-two
//! size class up to 1 KiB and takes new blocks from the system allocator,
//! so a repeated small allocation costs a list pop and its free a push.
//!
//! Freed small blocks are kept for reuse and never returned, so a guest's
//! memory stays at its peak use per size class. Wasm memory cannot shrink
//! anyway, and the host replaces long-lived instances.

// A global allocator hands out raw pointers, which takes unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Block sizes of the classes, smallest first.
const CLASS_SIZES: [usize; 7] = [16, 32, 64, 128, 256, 512, 1024];

/// Alignment of every small block. Larger alignments go to the system
/// allocator.
const CLASS_ALIGN: usize = 16;

/// The size-class allocator. See the module documentation.
#[derive(Debug)]
pub struct SmallAlloc {
    /// Head of each class's free list. A free block stores the next
    /// block's address in its first word.
    heads: UnsafeCell<[*mut u8; CLASS_SIZES.len()]>,
}

// SAFETY: wasm32 components run on one thread, so the free lists are never
// touched concurrently. Native builds never install this allocator and use
// it only in single-threaded tests.
unsafe impl Sync for SmallAlloc {}

impl SmallAlloc {
    /// Creates an allocator with empty free lists.
    pub const fn new() -> Self {
        SmallAlloc {
            heads: UnsafeCell::new([ptr::null_mut(); CLASS_SIZES.len()]),
        }
    }
}

impl Default for SmallAlloc {
    fn default() -> Self {
        Self::new()
    }
}

/// Returns the class that serves `layout`, or `None` when the system
/// allocator serves it.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS_ALIGN || layout.size() > CLASS_SIZES[CLASS_SIZES.len() - 1] {
        return None;
    }
    CLASS_SIZES.iter().position(|&size| layout.size() <= size)
}

fn class_layout(class: usize) -> Layout {
    // Both values are constants that form a valid layout.
    Layout::from_size_align(CLASS_SIZES[class], CLASS_ALIGN).expect("class layouts are valid")
}

// SAFETY: every block handed out is either fresh from `System` with a
// layout at least as large and as aligned as requested, or a block of the
// same class returned earlier by `dealloc`. A block is on at most one free
// list, and only while the program does not own it.
unsafe impl GlobalAlloc for SmallAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            return unsafe { System.alloc(layout) };
        };

        let heads = unsafe { &mut *self.heads.get() };
        let block = heads[class];
        if block.is_null() {
            return unsafe { System.alloc(class_layout(class)) };
        }
        heads[class] = unsafe { block.cast::<*mut u8>().read() };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            return unsafe { System.dealloc(block, layout) };
        };

        let heads = unsafe { &mut *self.heads.get() };
        unsafe { block.cast::<*mut u8>().write(heads[class]) };
        heads[class] = block;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            (Some(old), Some(new)) if old == new => block,
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    let copied = layout.size().min(new_size);
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, copied);
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static GLOBAL: SmallAlloc = SmallAlloc::new();

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn size_maps_to_smallest_fitting_class() {
        let cases = [
            (1, Some(0)),
            (16, Some(0)),
            (17, Some(1)),
            (64, Some(2)),
            (65, Some(3)),
            (1024, Some(6)),
            (1025, None),
        ];
        for (size, expected) in cases {
            assert_eq!(class_of(layout(size, 8)), expected, "size {size}");
        }
        assert_eq!(class_of(layout(8, 32)), None, "over-aligned");
    }

    #[test]
    fn freed_block_is_reused_by_its_class() {
        let allocator = SmallAlloc::new();
        let small = layout(24, 8);

        let first = unsafe { allocator.alloc(small) };
        unsafe { allocator.dealloc(first, small) };
        let second = unsafe { allocator.alloc(layout(30, 4)) };
        let other_class = unsafe { allocator.alloc(layout(40, 8)) };

        assert_eq!(second, first);
        assert_ne!(other_class, first);
        assert_eq!(second as usize % CLASS_ALIGN, 0);
    }

    #[test]
    fn realloc_keeps_contents_across_classes() {
        let allocator = SmallAlloc::new();
        let start = layout(10, 1);
        let block = unsafe { allocator.alloc(start) };
        unsafe { ptr::copy_nonoverlapping(b"0123456789".as_ptr(), block, 10) };

        let same_class = unsafe { allocator.realloc(block, start, 16) };
        let bigger = unsafe { allocator.realloc(same_class, layout(16, 1), 600) };
        let large = unsafe { allocator.realloc(bigger, layout(600, 1), 5000) };

        assert_eq!(same_class, block);
        let contents = unsafe { std::slice::from_raw_parts(large, 10) };
        assert_eq!(contents, b"0123456789");
        unsafe { allocator.dealloc(large, layout(5000, 1)) };
    }
}
