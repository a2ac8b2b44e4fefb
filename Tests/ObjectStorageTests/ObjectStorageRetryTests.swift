import Foundation
import ObjectStorage
import Synchronization
import Testing
import Transport

/// Calls the store fails for a while are tried again, on an injected clock; others fail at once.
struct ObjectStorageRetryTests {
    /// A store that answers from a script, one answer per call, and records the calls.
    final class ScriptedStore: HTTPTransport {
        let answers: Mutex<[Result<TransportResponse, TransportFailure>]>
        let calls = Mutex(0)
        let requests = Mutex<[TransportRequest]>([])

        init(_ answers: [Result<TransportResponse, TransportFailure>]) { self.answers = Mutex(answers) }

        func send(
            _ request: TransportRequest,
            completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
        ) {
            self.calls.withLock { $0 += 1 }
            self.requests.withLock { $0.append(request) }
            let answer = self.answers.withLock { $0.count > 1 ? $0.removeFirst() : $0[0] }
            completion(answer)
        }
    }

    /// A clock that moves only when the client sleeps.
    final class Clock: Sendable {
        let seconds = Mutex(0.0)
        let sleeps = Mutex<[Double]>([])
        func now() -> Date { Date(timeIntervalSince1970: 1_765_000_000 + self.seconds.withLock { $0 }) }
        func sleep(_ delay: Double) {
            self.seconds.withLock { $0 += delay }
            self.sleeps.withLock { $0.append(delay) }
        }
    }

    static func error(_ status: Int, _ code: String) -> Result<TransportResponse, TransportFailure> {
        .success(
            TransportResponse(
                status: status,
                body: Data("<Error><Code>\(code)</Code><Message>m</Message></Error>".utf8)
            )
        )
    }

    static let stored = Result<TransportResponse, TransportFailure>.success(
        TransportResponse(status: 200, headers: ["etag": "\"e1\""], body: Data())
    )

    static func client(_ store: ScriptedStore, clock: Clock, tolerance: Double = 60) -> ObjectStorageClient {
        var configuration = ObjectStorageClient.Configuration(endpoint: URL(string: "http://127.0.0.1:9")!, bucket: "b")
        configuration.retry.tolerance = tolerance
        return ObjectStorageClient(
            configuration: configuration,
            credentials: { .init(accessKeyID: "k", secretAccessKey: "s") },
            transport: store,
            now: { clock.now() },
            sleep: { clock.sleep($0) }
        )
    }

    @Test func aBusyOrFailingStoreIsTriedAgainWithGrowingWaits() throws {
        let store = ScriptedStore([
            Self.error(503, "SlowDown"), Self.error(500, "InternalError"), .failure(.connection("reset")),
            Self.error(400, "RequestTimeout"), Self.stored,
        ])
        let clock = Clock()
        let etag = try Self.client(store, clock: clock).putObject("k", body: Data("x".utf8))
        #expect(etag == "\"e1\"")
        #expect(store.calls.withLock { $0 } == 5)
        #expect(clock.sleeps.withLock { $0 } == [0.5, 1, 2, 4])
    }

    /// A full quota is waited out as a busy store is: space may be freed (an old night deleted by
    /// its lifecycle rule) while the run waits.
    @Test func aFullQuotaOrATooManyRequestsIsTriedAgain() throws {
        let store = ScriptedStore([
            Self.error(403, "QuotaExceeded"), Self.error(507, "XMinioStorageFull"), Self.error(429, "TooManyRequests"),
            Self.error(400, "XMinioAdminBucketQuotaExceeded"), Self.stored,
        ])
        let clock = Clock()
        try Self.client(store, clock: clock).putObject("k", body: Data("x".utf8))
        #expect(store.calls.withLock { $0 } == 5)
        #expect(clock.sleeps.withLock { $0 } == [0.5, 1, 2, 4])
    }

    @Test func aStoreThatStaysDownFailsTheCallOnceTheToleranceIsSpent() {
        let store = ScriptedStore([.failure(.connection("Connection refused"))])
        let clock = Clock()
        let failure = #expect(throws: ObjectStorageError.self) {
            try Self.client(store, clock: clock, tolerance: 60).putObject("k", body: Data())
        }
        #expect(failure?.code == "Unreachable")
        #expect(failure?.message.contains("tries over") == true, "\(String(describing: failure))")
        let waited = clock.seconds.withLock { $0 }
        #expect(waited <= 60 && waited >= 40, "waited \(waited) s")
        #expect(clock.sleeps.withLock { $0.max() } == 20, "waits stop growing at 20 s")
    }

    @Test(arguments: [
        (403, "SignatureDoesNotMatch"), (404, "NoSuchBucket"), (403, "AccessDenied"), (412, "PreconditionFailed"),
    ])
    func aRefusalIsFinalAtOnce(status: Int, code: String) {
        let store = ScriptedStore([Self.error(status, code), Self.stored])
        let clock = Clock()
        let failure = #expect(throws: ObjectStorageError.self) {
            try Self.client(store, clock: clock).putObject("k", body: Data())
        }
        #expect(failure?.code == code)
        #expect(store.calls.withLock { $0 } == 1)
        #expect(clock.sleeps.withLock { $0 }.isEmpty)
    }

    /// AWS answers a call sent to, or signed for, another region than the bucket's with the
    /// bucket's region: in a header (a redirect) or in the error (a signature for another region).
    @Test func aBucketInAnotherRegionIsNamedAtOnce() {
        let redirect = Result<TransportResponse, TransportFailure>.success(
            TransportResponse(
                status: 301,
                headers: ["x-amz-bucket-region": "eu-central-1"],
                body: Data(
                    "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>"
                        .utf8
                )
            )
        )
        let malformed = Result<TransportResponse, TransportFailure>.success(
            TransportResponse(
                status: 400,
                body: Data(
                    "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; expecting 'ap-south-1'</Message><Region>ap-south-1</Region></Error>"
                        .utf8
                )
            )
        )
        for (answer, region) in [(redirect, "eu-central-1"), (malformed, "ap-south-1")] {
            let store = ScriptedStore([answer, Self.stored])
            let failure = #expect(throws: ObjectStorageError.self) {
                try Self.client(store, clock: Clock()).putObject("k", body: Data())
            }
            #expect(failure?.isWrongRegion == true)
            #expect(failure?.bucketRegion == region)
            #expect(
                failure?.description.hasSuffix("(the bucket is in \(region))") == true,
                "\(String(describing: failure))"
            )
            #expect(store.calls.withLock { $0 } == 1, "not tried again")
        }
        let denied = ScriptedStore([Self.error(403, "AccessDenied")])
        let failure = #expect(throws: ObjectStorageError.self) {
            try Self.client(denied, clock: Clock()).putObject("k", body: Data())
        }
        #expect(failure?.isWrongRegion == false)
    }

    /// A create-only `PUT` (the lock in the bucket) says so as each store reads it: Google Cloud
    /// Storage's XML API honours `If-None-Match` on reads only.
    @Test func aCreateOnlyPutCarriesThePreconditionEachStoreReads() throws {
        for (endpoint, google) in [("https://storage.googleapis.com", true), ("http://127.0.0.1:9", false)] {
            let store = ScriptedStore([Self.stored])
            var configuration = ObjectStorageClient.Configuration(endpoint: URL(string: endpoint)!, bucket: "b")
            configuration.pathStyle = true
            let client = ObjectStorageClient(
                configuration: configuration,
                credentials: { .init(accessKeyID: "k", secretAccessKey: "s") },
                transport: store
            )
            try client.putObject("lock", body: Data("{}".utf8), ifNoneMatch: true)
            try client.putObject("plain", body: Data())
            let headers = store.requests.withLock { $0 }.map {
                Dictionary($0.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
            }
            #expect(headers[0]["if-none-match"] == "*")
            #expect(headers[0]["x-goog-if-generation-match"] == (google ? "0" : nil), "\(endpoint)")
            #expect(headers[1]["if-none-match"] == nil && headers[1]["x-goog-if-generation-match"] == nil)
        }
    }

    @Test func aCertificateOrAProxyThatRefusesIsNotWaitedFor() {
        for failure in [TransportFailure.tls("certificate verify failed"), .proxy("403 Forbidden")] {
            let store = ScriptedStore([.failure(failure), Self.stored])
            let clock = Clock()
            let error = #expect(throws: ObjectStorageError.self) {
                try Self.client(store, clock: clock).putObject("k", body: Data())
            }
            #expect(["TLSFailure", "ProxyRefused"].contains(error?.code ?? ""))
            #expect(store.calls.withLock { $0 } == 1)
        }
    }
}
