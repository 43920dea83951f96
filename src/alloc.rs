//! The process allocator: mimalloc, asked for the alignment a request needs.
//!
//! The gateway allocates many small, short-lived objects per request (headers, strings
//! of an entity, JSON buffers); mimalloc serves them from per-thread pages with far less
//! contention than the system allocator. Nearly every Rust allocation asks for an
//! alignment of 8 or less, which every mimalloc block already has (blocks are whole
//! words from a 16-byte aligned start), so those go to plain `mi_malloc` and skip the
//! aligned entry point's extra checks; larger alignments still go through
//! `mi_malloc_aligned`. Binaries opt in with
//! `#[global_allocator] static A: flowgate::alloc::Allocator = flowgate::alloc::Allocator;`.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The largest alignment every mimalloc block has, whatever its size.
const BLOCK_ALIGN: usize = 8;

/// mimalloc as the global allocator (see the module documentation).
pub struct Allocator;

// SAFETY: every pointer handed out comes from mimalloc with at least the layout's
// alignment (plain blocks are `BLOCK_ALIGN`-aligned, larger alignments are asked for
// explicitly) and at least the layout's size; `dealloc` and `realloc` only receive
// pointers this allocator returned, which mimalloc frees or resizes whatever entry
// point made them.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocates, fills, grows, shrinks and frees blocks of many sizes and alignments,
    /// checking alignment and contents at every step (the test binary's own allocator
    /// is the system one; these calls go to mimalloc directly).
    #[test]
    fn blocks_have_their_alignment_and_keep_their_contents() {
        let a = Allocator;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 3, 7, 8, 9, 12, 15, 16, 17, 24, 31, 40, 100, 1000, 70_000] {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                // SAFETY: non-zero sizes; each block is used within its size and freed
                // once, with the layout it was made with.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    for i in 0..size {
                        p.add(i).write(i as u8);
                    }
                    // Grown, then shrunk below the original size.
                    let grown = size * 3 + 5;
                    let q = a.realloc(p, layout, grown);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "grown {grown} align {align}");
                    assert!((0..size).all(|i| q.add(i).read() == i as u8));
                    let shrunk = size.div_ceil(2);
                    let r = a.realloc(q, Layout::from_size_align_unchecked(grown, align), shrunk);
                    assert!(!r.is_null());
                    assert_eq!(r as usize % align, 0, "shrunk {shrunk} align {align}");
                    assert!((0..shrunk).all(|i| r.add(i).read() == i as u8));
                    a.dealloc(r, Layout::from_size_align_unchecked(shrunk, align));
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| z.add(i).read() == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
