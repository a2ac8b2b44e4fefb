import Foundation

/// A TCP forwarder on loopback in front of a server, that goes down after the server's first
/// answer and that the test brings back: while down it accepts each connection and resets it at
/// once (a store that is down behind its load balancer). It stops when ``stop()`` runs or the test process ends.
public final class SwitchableForwarder: @unchecked Sendable {
    /// `http://127.0.0.1:PORT`: where to call instead of the server.
    public let url: String
    private let process: Process
    private let input: Pipe
    private let output: Pipe

    static let script = #"""
        import socket, struct, sys, threading
        target = int(sys.argv[1])
        lock = threading.Lock()
        state = {"up": True, "refused": 0, "announced": False}
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        print("http://127.0.0.1:%d" % listener.getsockname()[1], flush=True)

        def reset(connection):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

        def carry(source, sink, answers):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    sink.sendall(data)
                    if answers:
                        with lock:
                            if not state["announced"]:
                                state["announced"] = True
                                # New connections are reset from now on; this one finishes.
                                state["up"] = False
                                print("answered", flush=True)
            except OSError:
                pass
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        def accept():
            while True:
                client, _ = listener.accept()
                with lock:
                    if not state["up"]:
                        state["refused"] += 1
                        reset(client)
                        continue
                    server = socket.create_connection(("127.0.0.1", target))
                threading.Thread(target=carry, args=(client, server, False), daemon=True).start()
                threading.Thread(target=carry, args=(server, client, True), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        for line in sys.stdin:
            with lock:
                if line.strip() == "up":
                    state["up"] = True
                    print("refused %d" % state["refused"], flush=True)
        """#

    /// Starts a forwarder to `target` (`http://127.0.0.1:PORT`), up; it goes down by itself once it
    /// has carried the server's first answer (new connections are reset, the one that carried it
    /// finishes), however late the test hears of it.
    public init(target: String) throws {
        guard let port = URL(string: target)?.port else { throw TestFailure("no port in \(target)") }
        let started = try PythonReaders.startServer(
            Self.script,
            [String(port)],
            name: "the forwarder"
        )
        (self.process, self.input) = (started.process, started.input)
        self.output = started.output
        self.url = String(decoding: started.line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits until the server's first answer has been carried back.
    public func waitForFirstAnswer() throws {
        guard try self.readLine() == "answered" else { throw TestFailure("the forwarder carried nothing") }
    }

    /// Brings the server back; returns how many connections were reset while it was away.
    public func up() throws -> Int {
        self.input.fileHandleForWriting.write(Data("up\n".utf8))
        let line = try self.readLine()
        guard line.hasPrefix("refused "), let count = Int(line.dropFirst(8)) else {
            throw TestFailure("the forwarder said \(line)")
        }
        return count
    }

    /// Stops the forwarder.
    public func stop() {
        try? self.input.fileHandleForWriting.close()
        self.process.waitUntilExit()
    }

    deinit { try? self.input.fileHandleForWriting.close() }

    private func readLine() throws -> String {
        var line = Data()
        while true {
            let byte = self.output.fileHandleForReading.readData(ofLength: 1)
            guard !byte.isEmpty else { throw TestFailure("the forwarder stopped") }
            if byte.first == UInt8(ascii: "\n") { break }
            line += byte
        }
        return String(decoding: line, as: UTF8.self)
    }
}
