import Dispatch

/// Blocking work (an export, a burst of API calls) run where it cannot starve the cooperative pool.
public enum BlockingWork {
    /// Runs `body` on its own Dispatch queue and returns what it returned or threw.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "faceexport.blocking").async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs `body`, which cannot fail, on its own Dispatch queue and returns what it returned.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: "faceexport.blocking").async { continuation.resume(returning: body()) }
        }
    }
}
