import Dispatch
import Synchronization
import Testing

@testable import ExportPipeline

struct BoundedQueueTests {
    @Test func deliversInOrderAndEndsWhenClosedAndDrained() {
        let queue = BoundedQueue<Int>(capacity: 3)
        for value in 1...3 { #expect(queue.push(value)) }
        queue.close()
        #expect(!queue.push(4))
        #expect([queue.pop(), queue.pop(), queue.pop(), queue.pop()] == [1, 2, 3, nil])
    }

    @Test(.timeLimit(.minutes(1))) func aFullQueueHoldsTheProducerUntilAConsumerTakesAnItem() {
        let queue = BoundedQueue<Int>(capacity: 2)
        queue.push(1)
        queue.push(2)
        let pushed = DispatchSemaphore(value: 0)
        DispatchQueue(label: "producer").async {
            queue.push(3)
            pushed.signal()
        }
        // However far the producer got, it cannot have finished: the queue is full.
        #expect(pushed.wait(timeout: .now()) == .timedOut)
        #expect(queue.pop() == 1)
        pushed.wait()
        #expect([queue.pop(), queue.pop()] == [2, 3])
    }

    @Test(.timeLimit(.minutes(1))) func cancelWakesEveryWaiter() {
        let queue = BoundedQueue<Int>(capacity: 1)
        let woke = DispatchSemaphore(value: 0)
        DispatchQueue(label: "consumer").async {
            #expect(queue.pop() == nil)
            woke.signal()
        }
        queue.cancel()
        woke.wait()
        #expect(!queue.push(1))
    }

    @Test(.timeLimit(.minutes(1))) func manyProducersAndConsumersLoseAndRepeatNothing() {
        let queue = BoundedQueue<Int>(capacity: 4)
        let received = Mutex<[Int]>([])
        let producers = DispatchGroup()
        let consumers = DispatchGroup()
        for consumer in 0..<3 {
            DispatchQueue(label: "consumer-\(consumer)").async(group: consumers) {
                while let value = queue.pop() { received.withLock { $0.append(value) } }
            }
        }
        for producer in 0..<4 {
            DispatchQueue(label: "producer-\(producer)").async(group: producers) {
                for index in 0..<500 { queue.push(producer * 1000 + index) }
            }
        }
        producers.wait()
        queue.close()
        consumers.wait()
        let expected = (0..<4).flatMap { producer in (0..<500).map { producer * 1000 + $0 } }
        #expect(received.withLock { $0.sorted() } == expected)
    }

    /// Producers and consumers wait on separate conditions: a producer held by a full queue must be
    /// woken by `close` as surely as a consumer held by an empty one.
    @Test(.timeLimit(.minutes(1))) func closeReleasesProducersHeldByAFullQueue() {
        let queue = BoundedQueue<Int>(capacity: 1)
        queue.push(0)
        let held = DispatchSemaphore(value: 0)
        queue.producerWillWait = { held.signal() }
        let refused = Mutex(0)
        let producers = DispatchGroup()
        for producer in 1...3 {
            DispatchQueue(label: "producer-\(producer)").async(group: producers) {
                if !queue.push(producer) { refused.withLock { $0 += 1 } }
            }
        }
        for _ in 1...3 { held.wait() }
        queue.close()
        producers.wait()
        #expect(refused.withLock { $0 } == 3)
        #expect([queue.pop(), queue.pop()] == [0, nil])
    }
}

struct RetryPolicyTests {
    @Test func delaysGrowExponentiallyUpToTheCapWithFullJitter() {
        let policy = RetryPolicy(maxAttempts: 8, baseDelay: 0.5, maxDelay: 5)
        #expect((1...6).map { policy.delayBound(beforeRetry: $0) } == [0.5, 1, 2, 4, 5, 5])
        #expect(policy.delay(beforeRetry: 3, unit: 0) == 0)
        #expect(policy.delay(beforeRetry: 3, unit: 0.5) == 1)
        #expect(policy.delay(beforeRetry: 10, unit: 0.999) < 5)
        #expect(policy.delayBound(beforeRetry: 500) == 5)
    }
}
