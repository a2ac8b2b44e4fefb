import Foundation
import ObjectStorage
import TestSupport
import Testing
import Transport

/// The S3 client against moto's server checking every signature; each object read back by boto3.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ObjectStorageClientTests {
    static func client(
        _ server: MotoServer,
        secret: String? = nil,
        bucket: String? = nil,
        endpoint: String? = nil
    ) throws -> ObjectStorageClient {
        try server.client(secret: secret, bucket: bucket, endpoint: endpoint)
    }

    /// The bytes of `key` as boto3 reads them, in hex.
    static func read(_ server: MotoServer, _ key: String) throws -> String {
        let output = try server.boto3(
            "print(s3.get_object(Bucket=bucket, Key=sys.argv[1])['Body'].read().hex())",
            [key]
        )
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func aPutObjectIsReadBackByBoto3AndAConditionalPutRefusesAnExistingKey() throws {
        let server = try MotoServer()
        defer { server.stop() }
        let client = try Self.client(server)
        let key = "dt=2026-12-06/group=lib a+b ☃/faces.ndjson"
        let body = Data("{\"user_data\":\"é\\u0000\\\"\"}\n".utf8)
        let etag = try client.putObject(key, body: body)
        #expect(etag.count == 34 && etag.hasPrefix("\""), "an ETag: \(etag)")
        #expect(try Self.read(server, key) == body.map { String(format: "%02x", $0) }.joined())
        #expect(try client.getObject(key) == body)
        try client.putObject(".faceexport/lock", body: Data("holder".utf8), ifNoneMatch: true)
        let refused = #expect(throws: ObjectStorageError.self) {
            try client.putObject(".faceexport/lock", body: Data("another".utf8), ifNoneMatch: true)
        }
        #expect(refused?.code == "PreconditionFailed" && refused?.status == 412)
        #expect(
            try Self.read(server, ".faceexport/lock") == Data("holder".utf8).map { String(format: "%02x", $0) }.joined()
        )
    }

    @Test func aMultipartUploadAppearsWholeAndAnAbortedOneLeavesNothing() throws {
        let server = try MotoServer()
        defer { server.stop() }
        let client = try Self.client(server)
        let key = "dt=2026-12-06/faces.parquet"
        // Parts but the last must be 5 MiB at least, on S3 as on moto.
        let first = Data((0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let second = Data("the last part".utf8)
        let upload = try client.createMultipartUpload(key)
        #expect(try client.listMultipartUploads(prefix: "dt=2026-12-06/") == [.init(key: key, uploadID: upload)])
        let etags = [
            (number: 2, etag: try client.uploadPart(key, uploadID: upload, number: 2, body: second)),
            (number: 1, etag: try client.uploadPart(key, uploadID: upload, number: 1, body: first)),
        ]
        let absent = try server.boto3("print(s3.list_objects_v2(Bucket=bucket)['KeyCount'])")
        #expect(String(decoding: absent, as: UTF8.self) == "0\n", "nothing visible before the upload completes")
        try client.completeMultipartUpload(key, uploadID: upload, parts: etags)
        let digest = try server.boto3(
            "import hashlib; print(hashlib.sha256(s3.get_object(Bucket=bucket, Key=sys.argv[1])['Body'].read()).hexdigest())",
            [key]
        )
        #expect(String(decoding: digest, as: UTF8.self) == SignatureV4.sha256Hex(Array(first + second)) + "\n")
        let size = try server.boto3("print(s3.head_object(Bucket=bucket, Key=sys.argv[1])['ContentLength'])", [key])
        #expect(String(decoding: size, as: UTF8.self) == "\(first.count + second.count)\n")
        let abandoned = try client.createMultipartUpload("dt=2026-12-06/faces.csv.gz")
        _ = try client.uploadPart("dt=2026-12-06/faces.csv.gz", uploadID: abandoned, number: 1, body: second)
        try client.abortMultipartUpload("dt=2026-12-06/faces.csv.gz", uploadID: abandoned)
        #expect(try client.listMultipartUploads(prefix: "").isEmpty, "no upload left open")
        let pending = try server.boto3("print(len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))")
        #expect(String(decoding: pending, as: UTF8.self) == "0\n", "boto3 sees none either")
    }

    @Test func aWrongSecretAMissingBucketAndNoServerAreOnePlainLineEach() throws {
        let server = try MotoServer()
        defer { server.stop() }
        let wrong = #expect(throws: ObjectStorageError.self) {
            try Self.client(server, secret: "not-the-secret").putObject("x", body: Data())
        }
        #expect(wrong?.code == "SignatureDoesNotMatch" && wrong?.status == 403)
        let missing = #expect(throws: ObjectStorageError.self) {
            try Self.client(server, bucket: "no-such-bucket").putObject("x", body: Data())
        }
        #expect(missing?.code == "NoSuchBucket" && missing?.status == 404)
        #expect(
            missing?.description.hasPrefix("object storage: PutObject s3://no-such-bucket/x failed with NoSuchBucket")
                == true
        )
        // A port nothing listens on.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(probe, $0, length) == 0 && getsockname(probe, $0, &length) == 0
            }
        }
        let port = UInt16(bigEndian: address.sin_port)
        close(probe)
        let down = #expect(throws: ObjectStorageError.self) {
            try Self.client(server, endpoint: "http://127.0.0.1:\(port)").putObject("x", body: Data())
        }
        #expect(down?.code == "Unreachable" && down?.status == 0)
        for error in [wrong, missing, down].compactMap({ $0 }) {
            #expect(!error.description.contains("\n") && !error.description.contains(server.secretAccessKey))
        }
    }
}
