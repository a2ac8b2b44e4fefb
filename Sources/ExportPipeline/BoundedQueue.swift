import Foundation

/// A first-in first-out hand-over between stages that holds at most `capacity` items.
///
/// Backpressure policy: a producer that finds the queue full blocks until a consumer takes an item,
/// so a slow stage slows the stages before it instead of growing memory. ``close()`` ends the
/// stream once it is drained; ``cancel()`` ends it at once and wakes everybody.
///
/// - Important: ``push(_:)`` and ``pop()`` block the calling thread. Use them on dedicated Dispatch
///   queues only, never from an `async` context.
public final class BoundedQueue<Element>: @unchecked Sendable {
    // Every stored property is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var items: [Element?] = []
    private var head = 0
    private var closed = false
    private var cancelled = false
    /// The most items the queue holds.
    public let capacity: Int

    /// Creates an empty queue.
    public init(capacity: Int) {
        precondition(capacity > 0, "a bounded queue needs room for one item")
        self.capacity = capacity
    }

    private var count: Int { self.items.count - self.head }

    /// Appends `item`, waiting while the queue is full; false when the queue was cancelled or closed.
    @discardableResult
    public func push(_ item: Element) -> Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.count >= self.capacity && !self.cancelled && !self.closed { self.condition.wait() }
        guard !self.cancelled && !self.closed else { return false }
        self.items.append(item)
        self.condition.broadcast()
        return true
    }

    /// Takes the oldest item, waiting while the queue is empty; nil once it is closed and drained, or cancelled.
    public func pop() -> Element? {
        self.condition.lock()
        defer { self.condition.unlock() }
        while self.count == 0 && !self.closed && !self.cancelled { self.condition.wait() }
        guard !self.cancelled, self.count > 0 else { return nil }
        let item = self.items[self.head].take()
        self.head += 1
        if self.head > 64 && self.head * 2 > self.items.count {
            self.items.removeFirst(self.head)
            self.head = 0
        }
        self.condition.broadcast()
        return item
    }

    /// No more items will come; consumers drain what is left and then see the end.
    public func close() {
        self.condition.lock()
        self.closed = true
        self.condition.broadcast()
        self.condition.unlock()
    }

    /// Ends the stream now: waiting producers and consumers return at once, queued items are dropped.
    public func cancel() {
        self.condition.lock()
        self.cancelled = true
        self.items.removeAll()
        self.head = 0
        self.condition.broadcast()
        self.condition.unlock()
    }
}
