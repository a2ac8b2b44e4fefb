import Foundation
import Testing

@testable import Transport

/// What libcurl's callbacks keep of an answer: its headers, read as bytes, and its body up to a limit.
struct CurlAnswerTests {
    /// libcurl hands header lines as bytes: `Retry-After` is found whatever its case and spacing,
    /// and nothing else is taken for it; a new status line (after a 100) forgets it.
    @Test func retryAfterIsReadFromHeaderLinesAsBytes() {
        func read(_ lines: [String]) -> String? {
            let answer = CurlAnswer(limit: 1 << 20)
            for line in lines {
                #expect(Array(line.utf8).withUnsafeBytes { answer.header($0) })
            }
            return answer.retryAfter
        }
        #expect(read(["HTTP/1.1 429 Too Many Requests\r\n", "Retry-After: 3\r\n", "\r\n"]) == "3")
        #expect(read(["RETRY-AFTER :\t 7 \r\n"]) == "7")
        #expect(read(["retry-after:Wed, 21 Oct 2026 07:28:00 GMT\r\n"]) == "Wed, 21 Oct 2026 07:28:00 GMT")
        #expect(read(["X-Retry-After: 2\r\n", "Retry-After-Ms: 5\r\n", "Content-Type: text/plain\r\n"]) == nil)
        #expect(read(["Retry\rAfter: 2\r\n", "Retry_After: 2\r\n"]) == nil)
        #expect(read(["HTTP/1.1 100 Continue\r\n", "Retry-After: 1\r\n", "HTTP/1.1 200 OK\r\n"]) == nil)
        // A Content-Length within the limit only reserves room; malformed ones are ignored.
        let answer = CurlAnswer(limit: 1 << 20)
        for line in ["content-length: 1048576\r\n", "Content-Length: -4\r\n", "CONTENT-LENGTH: 12x\r\n"] {
            #expect(Array(line.utf8).withUnsafeBytes { answer.header($0) })
        }
        #expect([UInt8]([1, 2, 3]).withUnsafeBytes { answer.append($0) })
        #expect(answer.body == Data([1, 2, 3]) && answer.retryAfter == nil && !answer.tooLarge)
    }

    /// An answer is read up to its limit: a larger `Content-Length` stops it at the headers, a body
    /// that goes on past the limit stops there, and nothing beyond the limit is kept.
    @Test func answersAreCutOffAtTheirLimit() {
        let announced = CurlAnswer(limit: 1000)
        #expect(!Array("Content-Length: 999999999999999\r\n".utf8).withUnsafeBytes { announced.header($0) })
        #expect(announced.tooLarge && announced.body.isEmpty)
        let endless = CurlAnswer(limit: 1000)
        let piece = [UInt8](repeating: 0x20, count: 300)
        #expect((0..<3).allSatisfy { _ in piece.withUnsafeBytes { endless.append($0) } })
        #expect(!piece.withUnsafeBytes { endless.append($0) })
        #expect(endless.tooLarge && endless.body.count == 900)
    }

    /// Every header of the final answer is kept by its lower-case name; an interim answer's are not.
    @Test func theFinalAnswersHeadersAreKeptByName() {
        let answer = CurlAnswer(limit: 1 << 20)
        let lines = [
            "HTTP/1.1 100 Continue\r\n", "X-Interim: 1\r\n", "HTTP/1.1 200 OK\r\n",
            "ETag: \"9b2cf535f27731c974343645a3985328\"\r\n",
            "x-amz-request-id:  4442587FB7D0A2F9 \r\n", "\r\n",
        ]
        for line in lines { #expect(Array(line.utf8).withUnsafeBytes { answer.header($0) }) }
        #expect(
            answer.headers == ["etag": "\"9b2cf535f27731c974343645a3985328\"", "x-amz-request-id": "4442587FB7D0A2F9"]
        )
    }
}
