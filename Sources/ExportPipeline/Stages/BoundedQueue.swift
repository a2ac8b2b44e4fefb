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
    // Every stored `var` is read and written only while `lock` is held.
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// Consumers wait here for an item; a push wakes one.
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Producers wait here for room; a pop wakes one (not all four walkers for one free slot).
    private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [Element?] = []
    private var head = 0
    private var closed = false
    private var cancelled = false
    /// Called, with the queue locked, each time a producer starts waiting for room: how a test
    /// knows a producer is held. Set before the queue is shared.
    var producerWillWait: (@Sendable () -> Void)?
    /// The most items the queue holds.
    public let capacity: Int

    /// Creates an empty queue.
    public init(capacity: Int) {
        precondition(capacity > 0, "a bounded queue needs room for one item")
        self.capacity = capacity
        pthread_mutex_init(self.lock, nil)
        pthread_cond_init(self.notEmpty, nil)
        pthread_cond_init(self.notFull, nil)
    }

    deinit {
        pthread_cond_destroy(self.notFull)
        pthread_cond_destroy(self.notEmpty)
        pthread_mutex_destroy(self.lock)
        self.notFull.deallocate()
        self.notEmpty.deallocate()
        self.lock.deallocate()
    }

    private var count: Int { self.items.count - self.head }

    /// Appends `item`, waiting while the queue is full; false when the queue was cancelled or closed.
    @discardableResult
    public func push(_ item: Element) -> Bool {
        pthread_mutex_lock(self.lock)
        defer { pthread_mutex_unlock(self.lock) }
        while self.count >= self.capacity && !self.cancelled && !self.closed {
            self.producerWillWait?()
            pthread_cond_wait(self.notFull, self.lock)
        }
        guard !self.cancelled && !self.closed else { return false }
        self.items.append(item)
        pthread_cond_signal(self.notEmpty)
        return true
    }

    /// Takes the oldest item, waiting while the queue is empty; nil once it is closed and drained, or cancelled.
    public func pop() -> Element? {
        pthread_mutex_lock(self.lock)
        defer { pthread_mutex_unlock(self.lock) }
        while self.count == 0 && !self.closed && !self.cancelled { pthread_cond_wait(self.notEmpty, self.lock) }
        guard !self.cancelled, self.count > 0 else { return nil }
        let item = self.items[self.head].take()
        self.head += 1
        if self.head > 64 && self.head * 2 > self.items.count {
            self.items.removeFirst(self.head)
            self.head = 0
        }
        pthread_cond_signal(self.notFull)
        return item
    }

    /// No more items will come; consumers drain what is left and then see the end.
    public func close() {
        pthread_mutex_lock(self.lock)
        self.closed = true
        self.wakeEverybody()
        pthread_mutex_unlock(self.lock)
    }

    /// Ends the stream now: waiting producers and consumers return at once, queued items are dropped.
    public func cancel() {
        pthread_mutex_lock(self.lock)
        self.cancelled = true
        self.items.removeAll()
        self.head = 0
        self.wakeEverybody()
        pthread_mutex_unlock(self.lock)
    }

    private func wakeEverybody() {
        pthread_cond_broadcast(self.notEmpty)
        pthread_cond_broadcast(self.notFull)
    }
}
