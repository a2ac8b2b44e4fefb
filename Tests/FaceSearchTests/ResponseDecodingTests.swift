import FaceSearchSimulation
import Foundation
import Testing
import Transport

@testable import FaceSearch

struct ResponseDecodingTests {
    /// Through the client's `list` decoding: the one-pass decoder, `JSONDecoder` where it declines.
    private func page(_ json: String, status: Int = 200) throws(FaceSearchError) -> FacePage {
        try FaceSearchClient.decodeList(.success(TransportResponse(status: status, body: Data(json.utf8))))
    }

    private func failure(_ body: String, status: Int) -> FaceSearchError? {
        do {
            _ = try self.page(body, status: status)
            return nil
        } catch {
            return error
        }
    }

    @Test func multipartBoundariesAreRandomHex() {
        let boundaries = (0..<100).map { _ in MultipartFormBody.randomBoundary() }
        #expect(Set(boundaries).count == boundaries.count)
        for boundary in boundaries {
            #expect(boundary.hasPrefix("faceexport-") && boundary.count == 11 + 32)
            #expect(boundary.dropFirst(11).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
    }

    @Test func addTimeInEveryDocumentedForm() throws {
        let page = try self.page(
            """
            {"request_id":"1769742249,b0513d34","time_used":74,"face_tokens":[
              {"face_token":"a","user_id":"u","user_data":"d","add_time":1769739690208},
              {"face_token":"b","user_id":"u","user_data":"d","add_time":"1769739690208"},
              {"face_token":"c","user_id":"u","user_data":"d","add_time":"2026-01-30T10:21:30.208+08:00"},
              {"face_token":"d","user_id":"u","user_data":"d","add_time":"2026-01-30T02:21:30.208Z"},
              {"face_token":"e","user_id":"u","user_data":"d","add_time":"2026-01-29T21:21:30.208-0500"},
              {"face_token":"f","user_id":"u","user_data":"d","add_time":1769739690208.0}
            ]}
            """
        )
        #expect(page.faces.map(\.addTime) == Array(repeating: 1_769_739_690_208, count: 6))
        #expect(page.requestID == "1769742249,b0513d34")
        #expect(page.next == nil)
    }

    @Test func unknownFieldsAndMissingOptionalFieldsAreTolerated() throws {
        let page = try self.page(
            """
            {"face_tokens":[{"face_token":"a","add_time":1,"quality":0.9,"extra":{"x":[1]}}],"cost":3,"next":"101"}
            """
        )
        #expect(page.faces == [Face(faceToken: "a", userID: "", userData: "", addTime: 1)])
        #expect(page.next == 101)
        #expect(try self.page(#"{"face_tokens":[],"next":201}"#).next == 201)
        #expect(try self.page(#"{"face_tokens":[],"next":"later"}"#).next == nil)
    }

    @Test func stringsSurviveDecodingByteForByte() throws {
        let page = try self.page(
            #"{"face_tokens":[{"face_token":"t","user_id":"Cafe\u0301","user_data":"a\r\nb\t\"c\"\\😀","add_time":1}]}"#
        )
        #expect(Array(page.faces[0].userID.utf8) == Array("Cafe\u{301}".utf8))
        #expect(Array(page.faces[0].userData.utf8) == Array("a\r\nb\t\"c\"\\😀".utf8))
    }

    @Test func jsonErrorWithCodeAndDetail() throws {
        let error = try #require(
            self.failure(#"{"request_id":"1,abc","time_used":3,"error":"MISSING_ARGUMENTS: group_id"}"#, status: 400)
        )
        #expect(error.httpStatus == 400)
        #expect(error.apiCode == "MISSING_ARGUMENTS")
        #expect(error.apiDetail == "group_id")
        #expect(error.requestID == "1,abc")
        #expect(error.disposition == .fatalForGroup)
        #expect(error.description.contains("request_id 1,abc"))
    }

    @Test func jsonErrorWithoutRequestID() throws {
        let error = try #require(self.failure(#"{"error":"AUTHORIZATION_ERROR: EXPIRED_SIGN"}"#, status: 403))
        #expect(error.requestID == nil)
        #expect(error.isExpiredSignature)
        #expect(error.disposition == .retryable)
    }

    @Test func plainTextError() throws {
        let error = try #require(self.failure("Request Entity Too Large", status: 413))
        #expect(error.httpStatus == 413)
        #expect(error.apiCode == nil)
        #expect(error.description.contains("Request Entity Too Large"))
        #expect(error.disposition == .fatalForGroup)
    }

    @Test func classificationFollowsTheSpec() throws {
        let cases: [(String, Int, FaceSearchError.Disposition)] = [
            (#"{"error":"INTERNAL_ERROR"}"#, 500, .retryable),
            (#"{"error":"CONCURRENCY_LIMIT_EXCEEDED"}"#, 403, .retryable),
            (#"{"error":"CONCURRENCY_LIMIT_EXCEEDED"}"#, 429, .retryable),
            (#"{"error":"AUTHENTICATION_ERROR"}"#, 403, .fatalForRun),
            (#"{"error":"AUTHORIZATION_ERROR: INVALID_SIGN"}"#, 403, .fatalForRun),
            (#"{"error":"AUTHORIZATION_ERROR: LIMIT_REACHED"}"#, 403, .fatalForRun),
            (#"{"error":"AUTHORIZATION_ERROR: API_KEY_BE_DISCONTINUED"}"#, 403, .fatalForRun),
            (#"{"error":"API_NOT_FOUND"}"#, 404, .fatalForRun),
            (#"{"error":"INVALID_GROUP_ID"}"#, 400, .fatalForGroup),
            (#"{"error":"INVALID_OUTER_ID"}"#, 400, .fatalForGroup),
            (#"{"error":"BAD_ARGUMENTS: start"}"#, 400, .fatalForGroup),
            ("<html>bad gateway</html>", 502, .retryable),
        ]
        for (body, status, disposition) in cases {
            let error = try #require(self.failure(body, status: status))
            #expect(error.disposition == disposition, "\(body) \(status)")
        }
        #expect(try #require(self.failure(#"{"error":"BAD_ARGUMENTS: start"}"#, status: 400)).isStartOutOfRange)
    }

    @Test func truncatedBodiesAndTransportFailuresAreRetryable() throws {
        let truncated = try #require(
            self.failure(#"{"request_id":"1,a","face_tokens":[{"face_token":"a","add_ti"#, status: 200)
        )
        #expect(truncated.disposition == .retryable)
        let empty = try #require(self.failure("", status: 200))
        #expect(empty.disposition == .retryable)
        do {
            let _: ListBody = try FaceSearchClient.decode(.failure(.connection("reset by peer")), call: "list")
            Issue.record("a connection failure must throw")
        } catch {
            #expect(error.disposition == .retryable)
        }
        do {
            let _: ListBody = try FaceSearchClient.decode(.failure(.timeout), call: "list")
            Issue.record("a timeout must throw")
        } catch {
            #expect(error.disposition == .retryable)
        }
    }

    @Test func unparsableAddTimeIsAnError() {
        #expect(self.failure(#"{"face_tokens":[{"face_token":"a","add_time":"yesterday"}]}"#, status: 200) != nil)
    }
}

struct TimestampTests {
    @Test func formatsRFC3339UTCWithMilliseconds() {
        #expect(Timestamp.formatRFC3339UTC(milliseconds: 1_769_739_690_208) == "2026-01-30T02:21:30.208Z")
        #expect(Timestamp.formatRFC3339UTC(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.formatRFC3339UTC(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.formatRFC3339UTC(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }

    /// Every millisecond of a second, every seventh second of a day, and the edges of the four-digit
    /// years, against Foundation's formatter (Python's `datetime` for years before 1583).
    @Test func formatsEveryPartOfTheTimeAsFoundationDoes() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        func check(_ millis: Int64) {
            let foundation = formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            #expect(Timestamp.formatRFC3339UTC(milliseconds: millis) == foundation, "\(millis)")
        }
        let day: Int64 = 1_769_731_200_000  // 2026-01-30T00:00:00Z
        for millis in 0..<1000 { check(day + Int64(millis)) }
        for second in stride(from: 0, to: 86_400, by: 7) { check(day + Int64(second) * 1000 + 999) }
        check(253_402_300_799_999)
        check(946_684_800_000)
        // Before 1583 Foundation switches to the Julian calendar; RFC 3339 stays Gregorian (as Python's datetime).
        #expect(Timestamp.formatRFC3339UTC(milliseconds: -62_135_596_800_000) == "0001-01-01T00:00:00.000Z")
        #expect(Timestamp.formatRFC3339UTC(milliseconds: -30_610_224_000_001) == "0999-12-31T23:59:59.999Z")
    }

    /// A day's date kept from one face to the next gives what a fresh formatting gives, across day
    /// boundaries, back in time, before 1970 and outside four-digit years.
    @Test func theDayCacheFormatsAsEachTimeAlone() {
        let times: [Int64] = [
            1_769_731_199_999, 1_769_731_200_000, 1_769_731_200_001, 1_769_817_599_999, 1_769_731_200_000,
            -1, 0, -86_400_001, 253_402_300_800_000, 253_402_300_799_999, 1_769_731_199_999,
        ]
        var cache = Timestamp.DayCache()
        var cached: [UInt8] = []
        for millis in times { Timestamp.appendRFC3339UTC(milliseconds: millis, to: &cached, cache: &cache) }
        #expect(
            String(decoding: cached, as: UTF8.self)
                == times.map { Timestamp.formatRFC3339UTC(milliseconds: $0) }.joined()
        )
    }

    @Test func parsesISO8601WithOffsets() {
        #expect(Timestamp.parseISO8601("2026-01-27T14:19:01+08:00") == 1_769_494_741_000)
        #expect(Timestamp.parseISO8601("2026-01-27T06:19:01Z") == 1_769_494_741_000)
        #expect(Timestamp.parseISO8601("2026-01-27T06:19:01.5Z") == 1_769_494_741_500)
        #expect(Timestamp.parseISO8601("2026-01-27T06:19:01") == nil)
        #expect(Timestamp.parseISO8601("2026-13-27T06:19:01Z") == nil)
        #expect(Timestamp.parseISO8601("yesterday") == nil)
    }

    @Test func formatAndParseAgreeWithFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let millis = Int64.random(in: 0...4_102_444_800_000, using: &random)
            let text = Timestamp.formatRFC3339UTC(milliseconds: millis)
            #expect(Timestamp.parseISO8601(text) == millis)
            let date = formatter.date(from: text)
            #expect(date.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } == millis)
        }
    }

    // MARK: - The one-pass `list` decoder against JSONDecoder

    /// The one-pass decoder's answer, and JSONDecoder's for the same bytes.
    private func bothDecoders(_ json: Data) -> (fast: ListPageDecoder.Answer?, reference: FacePage?) {
        let fast = json.withUnsafeBytes { ListPageDecoder.decode($0) }
        let reference = (try? JSONDecoder().decode(ListBody.self, from: json)).map(FacePage.init)
        return (fast, reference)
    }

    @Test(arguments: ["number", "string", "unsorted"])
    func theOnePassDecoderAgreesWithJSONDecoderOnGeneratedPages(style: String) throws {
        let dataset = DatasetGenerator(groups: 6, faces: 1200, sizing: .mixed, seed: 99).make()
        for group in dataset.groups {
            let faces: [[String: Any]] = group.faces.map {
                [
                    "face_token": $0.faceToken, "user_id": $0.userID, "user_data": $0.userData,
                    "add_time": style == "string" ? String($0.addTime) as Any : $0.addTime as Any,
                ]
            }
            let object: [String: Any] = ["request_id": "1769742249,b0513d34", "time_used": 7, "face_tokens": faces]
            let json = try JSONSerialization.data(
                withJSONObject: object,
                options: style == "unsorted" ? [] : [.sortedKeys]
            )
            let (fast, reference) = self.bothDecoders(json)
            let expected = FacePage(
                faces: group.faces.map {
                    Face(faceToken: $0.faceToken, userID: $0.userID, userData: $0.userData, addTime: $0.addTime)
                },
                requestID: "1769742249,b0513d34"
            )
            #expect(reference == expected)
            #expect(fast == .page(expected), "the common shape takes the fast path, byte for byte")
        }
    }

    /// Strings read eight bytes at a time: an escape, a quote or a non-ASCII byte at every place of
    /// a word, and a raw control byte (not JSON) refused as JSONDecoder refuses it.
    @Test func theOnePassDecoderFindsEverySpecialByteWhereverItFallsInAWord() throws {
        for special in ["\"", "\\", "\n", "\u{1}", "é", "字", "😀", "\u{7F}", "/"] {
            for before in 0..<18 {
                for after in [0, 1, 7, 8, 9] {
                    let text = String(repeating: "a", count: before) + special + String(repeating: "z", count: after)
                    let object: [String: Any] = [
                        "face_tokens": [["face_token": text, "user_data": text, "add_time": 1]], "request_id": "r",
                    ]
                    let (fast, reference) = self.bothDecoders(try JSONSerialization.data(withJSONObject: object))
                    let expected = FacePage(
                        faces: [Face(faceToken: text, userID: "", userData: text, addTime: 1)],
                        requestID: "r"
                    )
                    #expect(reference == expected)
                    #expect(fast == .page(expected), "\(Array(text.utf8))")
                }
                let raw = Data(
                    (#"{"face_tokens":[{"face_token":""# + String(repeating: "a", count: before)
                        + "\u{1}b\",\"add_time\":1}]}")
                        .utf8
                )
                let (fast, reference) = self.bothDecoders(raw)
                #expect(reference == nil && fast == nil, "a raw control byte at \(before)")
            }
        }
    }

    @Test func theOnePassDecoderTakesEscapesNullsAndUnknownKeys() throws {
        let json = #"""
             { "cost" : {"a":[1,2.5e3,{"b":null}],"c":"\"}"} , "face_tokens" : [ {"extra":[true,false],
              "face_token":"t\/1","user_id":null,"user_data":"\u00e9\ud83d\ude00\n\t\\\"\u0000","add_time":" 42 "},
              {"face_token":"t2","add_time":-5,"user_id":"x"} ], "next":" 7 ", "request_id":"r" }
            """#
        let (fast, reference) = self.bothDecoders(Data(json.utf8))
        let expected = FacePage(
            faces: [
                Face(faceToken: "t/1", userID: "", userData: "é😀\n\t\\\"\u{0}", addTime: 42),
                Face(faceToken: "t2", userID: "x", userData: "", addTime: -5),
            ],
            next: 7,
            requestID: "r"
        )
        #expect(reference == expected)
        #expect(fast == .page(expected))
        let error = Data(#"{"error_code":1,"error":"INVALID_GROUP_ID","request_id":"q"}"#.utf8)
        #expect(error.withUnsafeBytes { ListPageDecoder.decode($0) } == .error("INVALID_GROUP_ID", requestID: "q"))
    }

    /// Keys one byte off the API's (first, middle or last byte, or one byte shorter or longer) are
    /// other keys, skipped as JSONDecoder skips them.
    @Test func keysThatDifferInOneByteAreOtherKeys() throws {
        for name in ["face_token", "user_id", "user_data", "add_time", "next", "error", "request_id"] {
            let bytes = Array(name.utf8)
            var variants = [String(decoding: bytes.dropLast(), as: UTF8.self), name + "x"]
            for index in [0, bytes.count / 2, bytes.count - 1] {
                var changed = bytes
                changed[index] ^= 0x20
                variants.append(String(decoding: changed, as: UTF8.self))
            }
            for variant in variants {
                let json = #"{"face_tokens":[{"face_token":"t","add_time":5,"\#(variant)":"v"}],"\#(variant)":"w"}"#
                let (fast, reference) = self.bothDecoders(Data(json.utf8))
                let expected = FacePage(faces: [Face(faceToken: "t", userID: "", userData: "", addTime: 5)])
                #expect(reference == expected, "\(variant)")
                #expect(fast == .page(expected), "\(variant)")
            }
        }
    }

    /// Whole numbers of every length, signed or not, read as JSONDecoder reads them: eight digits at a
    /// time where there are eight, one by one after; a fraction, an exponent or an overflow declined.
    @Test func wholeNumbersOfEveryLengthAreReadAsJSONDecoderReadsThem() throws {
        for length in 1...20 {
            for pattern in ["1234567890", "9999999999", "1000000000", "9080706050"] {
                let digits = String(String(repeating: pattern, count: 3).prefix(length))
                for sign in ["", "-"] {
                    for after in ["", " ", ".5", "e2", "x"] {
                        let json = #"{"face_tokens":[{"face_token":"a","add_time":\#(sign + digits + after)}]}"#
                        let (fast, reference) = self.bothDecoders(Data(json.utf8))
                        let whole = after.trimmingCharacters(in: .whitespaces).isEmpty
                        guard let value = Int64(sign + digits), whole else {
                            #expect(fast == nil, "\(json)")
                            if whole {
                                // Beyond Int64 the answer is malformed (it once stopped the process).
                                #expect(throws: FaceSearchError.self, "\(json)") {
                                    try FaceSearchClient.decodeList(
                                        .success(TransportResponse(status: 200, body: Data(json.utf8)))
                                    )
                                }
                            }
                            continue
                        }
                        let expected = FacePage(faces: [Face(faceToken: "a", userID: "", userData: "", addTime: value)])
                        #expect(reference == expected, "\(json)")
                        #expect(fast == .page(expected), "\(json)")
                    }
                }
            }
        }
    }

    /// The face keys written otherwise than the API writes them (space around the colon, a key
    /// escaped, a body ending right after a key) are read the long way, with the same result.
    @Test(arguments: [
        #"{"face_tokens":[{"face_token" :"t","user_id"\#t:"u","user_data" : "d","add_time"\#n:5}]}"#,
        #"{"face_tokens":[{"face_t\u006fken":"t","user_id":"u","user_data":"d","add_time":5}]}"#,
        #"{"face_tokens":[{ "face_token":"t", "user_id":"u", "user_data":"d", "add_time":5 }]}"#,
        #"{"face_tokens":[{"user_id":"u","user_data":"d","face_token":"t","add_time":5}]}"#,
    ])
    func faceKeysWrittenOtherwiseReadTheSame(json: String) {
        let (fast, reference) = self.bothDecoders(Data(json.utf8))
        let expected = FacePage(faces: [Face(faceToken: "t", userID: "u", userData: "d", addTime: 5)])
        #expect(reference == expected)
        // An escaped key is not the key to the one-pass decoder (the API never escapes its keys): declined.
        #expect(fast == (json.contains("\\u006f") ? nil : .page(expected)))
    }

    /// Whatever the one-pass decoder does not handle, it hands back: JSONDecoder then decides.
    @Test(arguments: [
        #"{"face_tokens":[{"face_token":"a","add_time":1769739690208.0}]}"#,
        #"{"face_tokens":[{"face_token":"a","add_time":"2026-01-30T02:21:30.208Z"}]}"#,
        #"{"face_tokens":[{"face_token":"a","add_time":1e3}]}"#,
        #"{"face_tokens":[{"face_token":"a","add_time":99999999999999999999}]}"#,
        #"{"face_tokens":[{"face_token":"a","user_id":"\ud800","add_time":1}]}"#,
        #"{"face_tokens":[{"face_token":"a","user_id":7,"add_time":1}]}"#,
        #"{"face_tokens":[{"user_id":"u","add_time":1}]}"#,
        #"{"face_tokens":[{"face_token":"a"}]}"#,
        #"{"face_tokens":[{"face_token":"a","add_time":1}]"#,
        #"{"face_tokens":[{"face_token":"a","add_time":1}]} x"#,
        #"{"request_id":"r"}"#,
        #"{"face_tokens":[],"next":"later"}"#,
        "",
        "<html>502</html>",
    ])
    func theOnePassDecoderDeclinesWhatItDoesNotHandle(json: String) {
        #expect(Data(json.utf8).withUnsafeBytes { ListPageDecoder.decode($0) } == nil)
    }

    // MARK: - `get_size` through the one-pass decoder against JSONDecoder

    /// What the client's `get_size` decoding makes of a body: the count, or the error's words.
    private func sizeOutcome(_ body: String, status: Int, fast: Bool) -> String {
        let result = Result<TransportResponse, TransportFailure>.success(
            TransportResponse(status: status, retryAfter: "3", body: Data(body.utf8))
        )
        do throws(FaceSearchError) {
            if fast { return "count \(try FaceSearchClient.decodeSize(result))" }
            return "count \(try FaceSearchClient.decodeSizeWithJSONDecoder(result))"
        } catch {
            return "\(error) request \(error.requestID ?? "-") retry \(error.retryAfter.map { "\($0)" } ?? "-")"
        }
    }

    /// Every answer `get_size` may give, read by the client as `JSONDecoder` alone read it; the
    /// common shapes without it.
    @Test(arguments: [
        (#"{"request_id":"1769742249,b05","time_used":3,"group_id":"lib-1","face_count":1000}"#, 200, true),
        (#" { "face_count" : 0 , "group_id":"g","extra":{"a":[1,{"b":null}]} } "#, 200, true),
        (#"{"group_id":"g","face_count":9007199254740993,"request_id":null}"#, 200, true),
        (#"{"error":"INVALID_GROUP_ID","request_id":"q","time_used":1}"#, 400, false),
        (#"{"error":"CONCURRENCY_LIMIT_EXCEEDED","face_count":5}"#, 200, true),
        (#"{"error":"AUTHORIZATION_ERROR: DENIED"}"#, 403, false),
        (#"{"face_count":-1,"request_id":"r"}"#, 200, false),
        (#"{"face_count":"12","request_id":"r"}"#, 200, false),
        (#"{"face_count":" 12 "}"#, 200, false),
        (#"{"face_count":12.0}"#, 200, false),
        (#"{"face_count":1e3}"#, 200, false),
        (#"{"face_count":null}"#, 200, false),
        (#"{"face_count":99999999999999999999}"#, 200, false),
        (#"{"face_count":999999999999999999}"#, 200, true),
        (#"{"face_count":9223372036854775807}"#, 200, true),
        (#"{"face_count":9223372036854775808}"#, 200, false),
        (#"{"face_count":-0}"#, 200, true),
        (#"{"face_count":1,"face_count":2}"#, 200, false),
        (#"{"group_id":"g","request_id":"r"}"#, 200, false),
        (#"{"face_count":1"#, 200, false),
        (#"{"face_count":1} x"#, 200, false),
        ("<html>502 Bad Gateway</html>", 502, false),
        ("", 200, false),
    ])
    func getSizeAnswersReadAsJSONDecoderReadsThem(body: String, status: Int, fastPath: Bool) {
        #expect(
            self.sizeOutcome(body, status: status, fast: true) == self.sizeOutcome(body, status: status, fast: false)
        )
        let fast = Data(body.utf8).withUnsafeBytes { ListPageDecoder.decodeSize($0) }
        switch fast {
        case .count(let count, _)?: #expect(fastPath == (count >= 0), "a negative count goes to JSONDecoder")
        case .error?: #expect(fastPath == (status == 200))
        case nil: #expect(!fastPath)
        }
    }

    @Test(arguments: [
        [0xC3, 0x28], [0x5C, 0x6E, 0xC3, 0x28], [0xC3, 0x5C, 0x6E], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
    ])
    func invalidUTF8IsDeclined(raw: [UInt8]) {
        // Also after an escape (`\n`), and a lead byte cut short by one.
        var bytes = Array(#"{"face_tokens":[{"face_token":"a","user_data":"x"#.utf8)
        bytes += raw
        bytes += Array(#"","add_time":1}]}"#.utf8)
        #expect(Data(bytes).withUnsafeBytes { ListPageDecoder.decode($0) } == nil)
    }

    /// The decoder's own UTF-8 check accepts exactly what `String(validating:)` accepts: every
    /// sequence of one and two bytes, every three-byte sequence after a multi-byte lead, and the
    /// four-byte leads with every second byte.
    @Test func utf8CheckAgreesWithTheStandardLibrary() {
        func check(_ bytes: [UInt8]) {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(ListPageDecoder.isValidUTF8([0x41] + bytes, from: 1) == expected, "\(bytes)")
        }
        for first in 0...255 {
            check([UInt8(first)])
            for second in 0...255 { check([UInt8(first), UInt8(second)]) }
        }
        for lead in 0xE0...0xF4 {
            for second in stride(from: 0x70, through: 0xC8, by: 1) {
                for third in [0x00, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF] {
                    check([UInt8(lead), UInt8(second), UInt8(third)])
                    check([UInt8(lead), UInt8(second), UInt8(third), 0x80])
                    check([UInt8(lead), UInt8(second), 0x80, UInt8(third)])
                }
            }
        }
    }
}

/// The bench's realistic dataset is what it says: its size on the wire and its share of hard values.
struct RealisticDatasetTests {
    @Test(arguments: [(190, 1.0 / 6), (300, 0.5), (150, 0)])
    func facesHaveTheAverageWireSizeAndTheHardShareAsked(bytes: Int, share: Double) throws {
        var generator = DatasetGenerator(groups: 10, faces: 1000, sizing: .exact, seed: 5)
        generator.realistic = .init(averageFaceBytes: bytes, hardShare: share)
        let faces = generator.make().groups.flatMap(\.faces)
        var total = 0
        var hard = 0
        for face in faces {
            let object: [String: Any] = [
                "face_token": face.faceToken, "user_id": face.userID, "user_data": face.userData,
                "add_time": face.addTime,
            ]
            total += try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]).count + 1
            if face.userData.unicodeScalars.contains(where: {
                $0 == "\"" || $0 == "\\" || $0.value < 0x20 || $0.value > 0x7E
            }) {
                hard += 1
            }
        }
        let average = Double(total) / Double(faces.count)
        #expect(abs(average - Double(bytes)) / Double(bytes) < 0.05, "average \(average) bytes")
        // A hard string may be cut to nothing plain (e.g. "-42"); most carry an escape or non-ASCII.
        let measuredShare = Double(hard) / Double(faces.count)
        #expect(measuredShare <= share + 0.02 && measuredShare >= share * 0.6, "hard share \(measuredShare)")
    }
}
