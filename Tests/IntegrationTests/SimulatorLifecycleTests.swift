import FaceSearchSimulation
import FaceSearchSimulator
import Foundation
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The embedded simulator stops cleanly however its caller ends: a test cut short by its time limit
/// or a demo whose export failed must not take the process down with it.
struct SimulatorLifecycleTests {
    /// Opens a TCP connection to `port` on loopback and closes it at once; whether it connected.
    static func connectAndClose(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// NIO traps ("Deinited NIOAsyncWriter without calling finish()") when a server's task is
    /// cancelled while a connection it accepted waits to be served; connections keep arriving here
    /// after the caller is cancelled, and the process must live to see the simulator stop.
    @Test func aCancelledCallerStopsTheSimulatorWhileConnectionsArrive() async throws {
        let simulator = FaceSearchSimulator(
            configuration: SimulatorConfiguration(credentials: ["key": "secret"]),
            dataset: DatasetGenerator(groups: 1, faces: 1, sizing: .exact, seed: 1).make()
        )
        let (listening, announce) = AsyncStream.makeStream(of: Void.self)
        let connected = Atomic(0)
        let served = Atomic(0)
        let caller = Task {
            try await simulator.withRunning { port in
                served.store(port, ordering: .relaxed)
                announce.yield()
                // Until the cancellation, and 300 connections past it: many accepted as the server stops.
                var past = 0
                while past < 300 {
                    if await runOffThePool({ Self.connectAndClose(port: port) }) {
                        connected.add(1, ordering: .relaxed)
                    }
                    if Task.isCancelled { past += 1 }
                }
            }
        }
        var iterator = listening.makeAsyncIterator()
        await iterator.next()
        caller.cancel()
        try await caller.value
        #expect(connected.load(ordering: .relaxed) >= 300, "the simulator served until its caller was done")
        #expect(!Self.connectAndClose(port: served.load(ordering: .relaxed)), "the simulator has stopped")
    }
}
