//! Items waiting for their time: pops the earliest first, ties in the order they were pushed.
//! Generic over the clock's instant, so the simulator (virtual `Timestamp`), the relay (tokio)
//! and the netns router (std) share one queue.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<I, T> {
    at: I,
    order: u64,
    item: T,
}

impl<I: Ord, T> PartialEq for Entry<I, T> {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl<I: Ord, T> Eq for Entry<I, T> {}
impl<I: Ord, T> PartialOrd for Entry<I, T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<I: Ord, T> Ord for Entry<I, T> {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap.
        (&o.at, o.order).cmp(&(&self.at, self.order))
    }
}

pub struct DueQueue<I, T> {
    heap: BinaryHeap<Entry<I, T>>,
    pushed: u64,
}

impl<I: Ord + Copy, T> Default for DueQueue<I, T> {
    fn default() -> Self {
        DueQueue { heap: BinaryHeap::new(), pushed: 0 }
    }
}

impl<I: Ord + Copy, T> DueQueue<I, T> {
    pub fn push(&mut self, at: I, item: T) {
        self.pushed += 1;
        self.heap.push(Entry { at, order: self.pushed, item });
    }

    /// When the earliest item is due.
    pub fn next_at(&self) -> Option<I> {
        self.heap.peek().map(|e| e.at)
    }

    /// The earliest item and its time, if it is due at `now`.
    pub fn pop_due(&mut self, now: I) -> Option<(I, T)> {
        if self.heap.peek()?.at > now {
            return None;
        }
        self.heap.pop().map(|e| (e.at, e.item))
    }

    /// The earliest item, due or not (draining at shutdown).
    pub fn pop(&mut self) -> Option<(I, T)> {
        self.heap.pop().map(|e| (e.at, e.item))
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_ties_in_push_order() {
        let mut q = DueQueue::default();
        q.push(5, "b");
        q.push(3, "a");
        q.push(5, "c");
        assert_eq!(q.next_at(), Some(3));
        assert_eq!(q.pop_due(2), None, "nothing due yet");
        assert_eq!(q.pop_due(5), Some((3, "a")));
        assert_eq!(q.pop_due(5), Some((5, "b")));
        assert_eq!(q.pop_due(5), Some((5, "c")));
        assert!(q.is_empty());
    }
}
