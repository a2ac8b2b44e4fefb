import Foundation
import Testing
import Transport

/// The libcurl transport against a real HTTP server on loopback (Python's `http.server`, which
/// echoes what it received): any method, the headers given, the answer's headers.
struct CurlTransportTests {
    static let echoServer = #"""
        import http.server, json, os, sys, threading
        # Gone as soon as the test lets go of its standard input, however the test ends.
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
        class Echo(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                out = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                  "body": body.decode("utf-8", "replace")}).encode()
                self.send_response(201 if self.command == "PUT" else 200)
                self.send_header("ETag", '"etag-of-' + self.command + '"')
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            do_GET = do_PUT = do_POST = do_DELETE = answer
            def log_message(self, *arguments): pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
        server.timeout = 20  # each wait for a connection ends, so the server always exits
        print(server.server_address[1], flush=True)
        server.handle_request(); server.handle_request(); server.handle_request(); server.handle_request()
        """#

    @Test func anyMethodCarriesItsHeadersAndBodyAndReadsTheAnswersHeaders() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", Self.echoServer]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let input = Pipe()
        process.standardInput = input
        try process.run()
        defer { try? input.fileHandleForWriting.close() }
        var portLine = Data()
        while !portLine.contains(UInt8(ascii: "\n")) {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            try #require(!byte.isEmpty, "the echo server did not start")
            portLine += byte
        }
        let port = try #require(
            Int(String(decoding: portLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        )
        let transport = try CurlTransport()
        func send(_ request: TransportRequest) throws -> (TransportResponse, [String: Any]) {
            let box = ResultBox()
            transport.send(request) { box.result = $0 }
            let response = try box.result!.get()
            return (response, try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any]))
        }
        let base = "http://127.0.0.1:\(port)"
        // PUT, then GET on the same pooled handle: the method is set on every call.
        let (put, echoedPut) = try send(
            TransportRequest(
                method: "PUT",
                url: URL(string: base + "/bucket/dt%3D2026-12-06/faces.parquet")!,
                headers: [("If-None-Match", "*"), ("X-Amz-Date", "20261206T000000Z")],
                body: Data("part".utf8)
            )
        )
        #expect(put.status == 201 && put.headers["etag"] == "\"etag-of-PUT\"")
        #expect(echoedPut["method"] as? String == "PUT" && echoedPut["body"] as? String == "part")
        #expect(echoedPut["path"] as? String == "/bucket/dt%3D2026-12-06/faces.parquet", "sent as given")
        let headers = try #require(echoedPut["headers"] as? [String: String])
        #expect(headers["If-None-Match"] == "*" && headers["X-Amz-Date"] == "20261206T000000Z")
        #expect(headers["Content-Type"] == nil, "no content type unless one is given")
        let (get, echoedGet) = try send(TransportRequest(method: "GET", url: URL(string: base + "/bucket?uploads=")!))
        #expect(
            get.status == 200 && echoedGet["method"] as? String == "GET"
                && echoedGet["path"] as? String == "/bucket?uploads="
        )
        let (_, echoedDelete) = try send(TransportRequest(method: "DELETE", url: URL(string: base + "/bucket/x")!))
        #expect(echoedDelete["method"] as? String == "DELETE")
        // And a POST as the FaceSearch client makes it.
        let (post, echoedPost) = try send(
            TransportRequest(url: URL(string: base + "/list")!, contentType: "application/json", body: Data("{}".utf8))
        )
        #expect(post.status == 200 && echoedPost["method"] as? String == "POST")
        #expect((echoedPost["headers"] as? [String: String])?["Content-Type"] == "application/json")
    }
}

/// Where a completion leaves its result (the curl transport calls it before `send` returns).
private final class ResultBox: @unchecked Sendable {
    var result: Result<TransportResponse, TransportFailure>?
}
