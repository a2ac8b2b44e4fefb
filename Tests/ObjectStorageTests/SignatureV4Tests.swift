import Foundation
import ObjectStorage
import TestSupport
import Testing

/// The signer against AWS's published SigV4 test suite, the S3 documentation's examples, and
/// botocore's own S3 signer, byte for byte.
struct SignatureV4Tests {
    /// The test suite's keys, region, service and time (`aws-sig-v4-test-suite`).
    static let suiteCredentials = SignatureV4.Credentials(
        accessKeyID: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )
    static let suiteSigner = SignatureV4(region: "us-east-1", service: "service")
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
    static let host = ("Host", "example.amazonaws.com")

    struct SuiteCase: Sendable, CustomTestStringConvertible {
        var name: String
        var request: SignatureV4.Request
        var token: String? = nil
        var signedHeaders: String
        var signature: String
        var testDescription: String { self.name }
    }

    static let token =
        "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

    static func get(_ path: String, _ query: [(name: String, value: String?)] = []) -> SignatureV4.Request {
        SignatureV4.Request(
            method: "GET",
            path: path,
            query: query,
            headers: [Self.host],
            payloadHash: SignatureV4.emptyPayloadHash
        )
    }

    static let suite: [SuiteCase] = [
        SuiteCase(
            name: "get-vanilla",
            request: get("/"),
            signedHeaders: "host;x-amz-date",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        ),
        SuiteCase(
            name: "get-vanilla-query-order-key-case",
            request: get("/", [("Param2", "value2"), ("Param1", "value1")]),
            signedHeaders: "host;x-amz-date",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        ),
        SuiteCase(
            name: "get-vanilla-empty-query-key",
            request: get("/", [("Param1", "value1")]),
            signedHeaders: "host;x-amz-date",
            signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"
        ),
        SuiteCase(
            name: "get-unreserved",
            request: get("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
            signedHeaders: "host;x-amz-date",
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"
        ),
        SuiteCase(
            name: "get-utf8",
            request: get("/ሴ"),
            signedHeaders: "host;x-amz-date",
            signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        ),
        SuiteCase(
            name: "get-vanilla-utf8-query",
            request: get("/", [("ሴ", "bar")]),
            signedHeaders: "host;x-amz-date",
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"
        ),
        SuiteCase(
            name: "get-header-value-trim",
            request: SignatureV4.Request(
                method: "GET",
                path: "/",
                headers: [Self.host, ("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
                payloadHash: SignatureV4.emptyPayloadHash
            ),
            signedHeaders: "host;my-header1;my-header2;x-amz-date",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        ),
        SuiteCase(
            name: "post-x-www-form-urlencoded",
            request: SignatureV4.Request(
                method: "POST",
                path: "/",
                headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), Self.host],
                payloadHash: SignatureV4.emptyPayloadHash
            ),
            signedHeaders: "content-type;host;x-amz-date",
            signature: "0c3bc22986c53164a4755b4466c2e17db853888c5ddb98567e700a3ecdb262f6"
        ),
        SuiteCase(
            name: "post-sts-header-before",
            request: SignatureV4.Request(
                method: "POST",
                path: "/",
                headers: [Self.host],
                payloadHash: SignatureV4.emptyPayloadHash
            ),
            token: Self.token,
            signedHeaders: "host;x-amz-date;x-amz-security-token",
            signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        ),
    ]

    @Test(arguments: Self.suite)
    func theTestSuitesRequestsGetItsSignatures(_ test: SuiteCase) {
        var credentials = Self.suiteCredentials
        credentials.sessionToken = test.token
        let signed = Self.suiteSigner.sign(test.request, credentials: credentials, date: Self.suiteDate)
        let authorization = signed.headers.first { $0.name == "Authorization" }?.value
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                + "SignedHeaders=\(test.signedHeaders), Signature=\(test.signature)"
        )
        #expect(signed.headers.contains { $0 == ("X-Amz-Date", "20150830T123600Z") })
    }

    @Test func theCanonicalRequestSortsTheQueryAndEndsWithThePayloadHash() {
        let signed = Self.suiteSigner.sign(
            Self.get("/", [("Param2", "value2"), ("Param1", "value1")]),
            credentials: Self.suiteCredentials,
            date: Self.suiteDate
        )
        #expect(
            signed.canonicalRequest
                == "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                + "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        #expect(
            signed.stringToSign
                == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                + "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"
        )
        #expect(signed.target == "/?Param1=value1&Param2=value2")
    }

    /// The S3 documentation's GET Object example (`sig-v4-header-based-auth`).
    @Test func theS3DocumentationsGetObjectExample() {
        let signed = SignatureV4(region: "us-east-1").sign(
            SignatureV4.Request(
                method: "GET",
                path: "/test.txt",
                headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                payloadHash: SignatureV4.emptyPayloadHash
            ),
            credentials: SignatureV4.Credentials(
                accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ),
            date: Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        )
        #expect(
            signed.headers.first?.value
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    /// Requests faceexport makes, signed by botocore's S3 signer (pinned in `.ci/python-readers.txt`)
    /// with its clock frozen: keys with `=`, spaces, `+`, non-ASCII; `?uploads`; part numbers and
    /// upload ids; a session token; a conditional PUT.
    @Test func botocoresS3SignerSignsWhatWeSignByteForByte() throws {
        let date = Date(timeIntervalSince1970: 1_796_515_200)  // 2026-12-06T00:00:00Z
        let signer = SignatureV4(region: "eu-central-1")
        let credentials = SignatureV4.Credentials(
            accessKeyID: "AKIAFACEEXPORTTEST",
            secretAccessKey: "s3cr3t/with+slash=and+plus",
            sessionToken: "FwoGZXIvYXdzEBYaDH+token/with=chars"
        )
        let host = ("Host", "127.0.0.1:9000")
        let body = Array("{\"faces\": 1}\n".utf8)
        let requests: [SignatureV4.Request] = [
            .init(
                method: "PUT",
                path: "/nightly/dt=2026-12-06/group=lib a+b/part.parquet",
                headers: [host, ("Content-Length", String(body.count))],
                payloadHash: SignatureV4.sha256Hex(body)
            ),
            .init(
                method: "POST",
                path: "/nightly/dt=2026-12-06/faces ☃.ndjson.gz",
                query: [("uploads", nil)],
                headers: [host],
                payloadHash: SignatureV4.emptyPayloadHash
            ),
            .init(
                method: "PUT",
                path: "/nightly/dt=2026-12-06/faces.csv.gz",
                query: [("uploadId", "2~abc/def+ghi=="), ("partNumber", "12")],
                headers: [host],
                payloadHash: "UNSIGNED-PAYLOAD"
            ),
            .init(
                method: "GET",
                path: "/nightly",
                query: [("list-type", "2"), ("prefix", "dt=2026-12-06/"), ("max-keys", "1000")],
                headers: [host],
                payloadHash: SignatureV4.emptyPayloadHash
            ),
            .init(
                method: "PUT",
                path: "/nightly/.faceexport/lock",
                headers: [host, ("If-None-Match", "*")],
                payloadHash: SignatureV4.sha256Hex(body)
            ),
        ]
        var cases: [[String: Any]] = []
        var ours: [String] = []
        var paths: [String] = []
        for request in requests {
            let signed = signer.sign(request, credentials: credentials, date: date)
            ours.append(signed.headers.first { $0.name == "Authorization" }!.value)
            // botocore encodes the path and the query itself (as its S3 client does), hashes the
            // body itself, and signs `UNSIGNED-PAYLOAD` only when told to.
            cases.append([
                "method": request.method,
                "path": request.path,
                "query": request.query.map { [$0.name, $0.value as Any? ?? NSNull()] },
                "headers": Dictionary(request.headers.filter { $0.name != "Host" }.map { ($0.name, $0.value) }) {
                    $1
                },
                "body": request.payloadHash == SignatureV4.sha256Hex(body) ? String(decoding: body, as: UTF8.self) : "",
                "unsigned": request.payloadHash == "UNSIGNED-PAYLOAD",
            ])
            paths.append(String(signed.target.prefix { $0 != "?" }))
        }
        let script = """
            import datetime, json, sys
            from unittest import mock
            import botocore.auth, botocore.awsrequest, botocore.credentials
            from botocore.utils import percent_encode
            credentials = botocore.credentials.Credentials(sys.argv[2], sys.argv[3], sys.argv[4])
            frozen = datetime.datetime(2026, 12, 6, 0, 0, 0)
            out = []
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen):
                for case in json.load(open(sys.argv[1])):
                    path = percent_encode(case["path"], safe="/~")
                    query = "&".join(percent_encode(name) + ("" if value is None else "=" + percent_encode(value))
                                     for name, value in case["query"])
                    url = "http://127.0.0.1:9000" + path + ("?" + query if query else "")
                    request = botocore.awsrequest.AWSRequest(method=case["method"], url=url,
                                                             headers=case["headers"], data=case["body"].encode())
                    auth = botocore.auth.S3SigV4Auth(credentials, "s3", "eu-central-1")
                    if case["unsigned"]:
                        auth._should_sha256_sign_payload = lambda request: False
                    auth.add_auth(request)
                    out.append([request.headers["Authorization"], path])
            json.dump(out, sys.stdout)
            """
        let casesPath = try makeTemporaryDirectory() + "/cases.json"
        try JSONSerialization.data(withJSONObject: cases).write(to: URL(fileURLWithPath: casesPath))
        let output = try PythonReaders.run(
            script,
            [casesPath, credentials.accessKeyID, credentials.secretAccessKey, credentials.sessionToken!]
        )
        let theirs = try #require(try JSONSerialization.jsonObject(with: output) as? [[String]])
        #expect(theirs.count == ours.count)
        for (index, botocore) in theirs.enumerated() {
            let request = "request \(index): \(requests[index].method) \(requests[index].path)"
            #expect(ours[index] == botocore[0], "\(request): the signature")
            #expect(paths[index] == botocore[1], "\(request): the path as sent")
        }
    }
}
