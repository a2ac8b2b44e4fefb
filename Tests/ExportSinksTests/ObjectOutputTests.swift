import FaceExportCrypto
import Foundation
import ObjectStorage
import TestSupport
import Testing
import Transport

@testable import ExportSinks

/// Outputs streamed to object storage (moto's server, checking every signature): invisible until
/// the commit, then byte for byte what the same output writes to disk; a discarded run leaves no
/// upload open and the previous object as it was.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ObjectOutputTests {
    static let source = RecordSource(account: "a", groupID: "g0")
    /// Parts of 16 KiB, and a server that refuses smaller ones but the last, as S3 refuses parts
    /// under 5 MiB.
    static let partSize = 16 << 10

    static func sink(
        _ format: OutputSink.Format,
        _ path: String,
        steps: FileSteps = .direct
    ) throws -> OutputSink {
        var configuration = OutputSink.Configuration(format: format, path: try OutputPathTemplate(path))
        configuration.partSize = Self.partSize
        configuration.rowGroupBytes = 48 << 10
        configuration.steps = steps
        return OutputSink(
            configuration: configuration,
            run: .init(date: "2026-12-06", runID: "r1", pipeline: "nightly")
        )
    }

    /// Three hundred pages of the hard records: several parts for every format.
    static var batches: [[StandardRecord]] {
        let records = StandardRecord.hardRecords()
        return (0..<300).map { batch in
            records.enumerated().map { index, record in
                var record = record
                record.faceToken = "token-\(batch)-\(index)"
                return record
            }
        }
    }

    static func boto3Lines(_ server: MotoServer, _ script: String, _ arguments: [String] = []) throws -> [String] {
        String(decoding: try server.boto3(script, arguments), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        var digest = SHA256Digest()
        bytes.withUnsafeBytes { digest.update($0) }
        return digest.hexDigest()
    }

    static let openUploads = "print(len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))"
    static let keys = "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket=bucket).get('Contents', [])))"

    @Test(arguments: [
        ("faces.ndjson.gz", OutputSink.Format.ndjson), ("faces.csv", .csv), ("faces.parquet", .parquet),
    ])
    func anUploadIsInvisibleUntilTheCommitThenTheBytesOnDisk(name: String, format: OutputSink.Format) throws {
        let server = try MotoServer(minimumPartSize: Self.partSize)
        defer { server.stop() }
        let steps = FileSteps(observer: nil, objectStore: try server.client())
        let folder = try makeTemporaryDirectory()
        let local = try Self.sink(format, folder + "/dt={date}/" + name)
        let remote = try Self.sink(format, "s3://\(server.bucket)/exports/dt={date}/" + name, steps: steps)
        var checkpoints: [FileCheckpoint] = []
        for batch in Self.batches {
            try local.write(batch, from: Self.source)
            _ = try local.checkpoint(Self.source, finished: false)
            try remote.write(batch, from: Self.source)
            checkpoints.append(try #require(try remote.checkpoint(Self.source, finished: false)))
        }
        // An upload cannot be continued by a resumed run yet: no checkpoint vouches for it, and
        // each names the upload, once begun, for a later run to abort.
        #expect(checkpoints.allSatisfy { !$0.isExact })
        #expect(checkpoints.last?.object == "s3://\(server.bucket)/exports/dt=2026-12-06/" + name)
        #expect(checkpoints.last?.upload?.isEmpty == false)
        #expect(try Self.boto3Lines(server, Self.keys).isEmpty, "nothing visible before the commit")
        #expect(try Self.boto3Lines(server, Self.openUploads) == ["1"])

        let onDisk = try #require(try local.commit(CommitContext.sample()).first)
        let uploaded = try #require(try remote.commit(CommitContext.sample()).first)
        let key = "exports/dt=2026-12-06/" + name
        #expect(uploaded.path == "s3://\(server.bucket)/" + key)
        #expect(uploaded.rows == onDisk.rows && uploaded.bytes == onDisk.bytes && uploaded.sha256 == onDisk.sha256)
        let read = try Self.boto3Lines(
            server,
            """
            import hashlib
            body = s3.get_object(Bucket=bucket, Key=sys.argv[1])['Body'].read()
            print(len(body)); print(hashlib.sha256(body).hexdigest())
            print(s3.head_object(Bucket=bucket, Key=sys.argv[1], PartNumber=1).get('PartsCount', 1))
            """,
            [key]
        )
        #expect(read.prefix(2) == ["\(onDisk.bytes)", onDisk.sha256], "boto3 reads the bytes written to disk")
        #expect(Int(read.last ?? "") ?? 0 >= 3, "streamed in parts")
        #expect(try Self.boto3Lines(server, Self.openUploads) == ["0"], "no upload left open")
    }

    @Test func everyPartButTheLastIsExactlyThePartSizeWhateverTheWrites() throws {
        let server = try MotoServer(minimumPartSize: Self.partSize)
        defer { server.stop() }
        let steps = FileSteps(observer: nil, objectStore: try server.client())
        let part = Self.partSize
        // Small writes, a write that ends a part exactly, one of a part and more with nothing
        // waiting (sent from the writer's bytes), one of several parts with bytes waiting.
        let sizes = [1, part - 1, part, 2 * part + 7, 3, 3 * part + 5, part - 3, 1, 4 * part, 10]
        var bytes: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        let upload = try ObjectUpload(path: "s3://\(server.bucket)/parts.bin", partSize: part, steps: steps)
        for size in sizes {
            let chunk = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            bytes += chunk
            try chunk.withUnsafeBytes { try upload.write($0) }
        }
        try upload.finish()
        let prepared = upload.prepared(
            SinkSummary(path: upload.finalPath, format: "bin", rows: 0, bytes: bytes.count, sha256: upload.sha256)
        )
        let parts = try #require(prepared.upload?.parts)
        try steps.completeUpload(upload.location, uploadID: prepared.upload!.uploadID, parts: parts, bytes: bytes.count)
        #expect(parts.count == (bytes.count + part - 1) / part)
        let read = try Self.boto3Lines(
            server,
            """
            import hashlib
            body = s3.get_object(Bucket=bucket, Key='parts.bin')['Body'].read()
            print(hashlib.sha256(body).hexdigest())
            count = s3.head_object(Bucket=bucket, Key='parts.bin', PartNumber=1)['PartsCount']
            print(' '.join(str(s3.head_object(Bucket=bucket, Key='parts.bin', PartNumber=n)['ContentLength'])
                           for n in range(1, count + 1)))
            """
        )
        #expect(read.first == Self.sha256(bytes))
        let lengths = read.last?.split(separator: " ").compactMap { Int($0) } ?? []
        #expect(lengths.dropLast().allSatisfy { $0 == part } && lengths.reduce(0, +) == bytes.count, "\(lengths)")
        #expect(upload.sha256 == Self.sha256(bytes))
    }

    @Test func aDiscardedRunAbortsItsUploadsAndLeavesThePreviousObject() throws {
        let server = try MotoServer(minimumPartSize: Self.partSize)
        defer { server.stop() }
        let client = try server.client()
        let previous = Data("last night\n".utf8)
        try client.putObject("exports/faces.ndjson", body: previous)
        let steps = FileSteps(observer: nil, objectStore: client)
        let sink = try Self.sink(.ndjson, "s3://\(server.bucket)/exports/faces.ndjson", steps: steps)
        let perLibrary = try Self.sink(
            .parquet,
            "s3://\(server.bucket)/exports/group={group}/part.parquet",
            steps: steps
        )
        for (index, batch) in Self.batches.prefix(100).enumerated() {
            let source = RecordSource(account: "a", groupID: "g\(index % 3)")
            try sink.write(batch, from: source)
            _ = try sink.checkpoint(source, finished: false)
            try perLibrary.write(batch, from: source)
            _ = try perLibrary.checkpoint(source, finished: false)
        }
        try perLibrary.groupFinished(RecordSource(account: "a", groupID: "g0"))
        // The night's file has sent parts, g0's file was finished (one part); g1's and g2's still
        // fill their first part in memory, with no upload begun.
        #expect(try Self.boto3Lines(server, Self.openUploads) == ["2"])
        sink.discard()
        perLibrary.discard()
        #expect(try Self.boto3Lines(server, Self.openUploads) == ["0"], "every upload aborted")
        #expect(try Self.boto3Lines(server, Self.keys) == ["exports/faces.ndjson"])
        #expect(try client.getObject("exports/faces.ndjson") == previous)
    }

    @Test func aSQLiteOutputInObjectStorageIsRefusedInOneLine() throws {
        let sink = try Self.sink(.sqlite, "s3://nightly/faces.sqlite")
        #expect {
            try sink.write(Self.batches[0], from: Self.source)
        } throws: { error in
            "\(error)"
                == "cannot write s3://nightly/faces.sqlite: a SQLite output is a database on disk, not a stream; "
                + "give it a local path"
        }
    }

    /// A commit finished again after a crash completes its uploads again. AWS answers a second
    /// completion of an upload it completed recently with success (so does moto), but may have
    /// forgotten it (`NoSuchUpload`): then the upload counts as done only if its object is there
    /// with its size. moto answers 500 to an upload it does not know, so the store here is scripted
    /// with S3's documented answers.
    @Test func anUploadTheStoreForgotCountsAsCompletedOnlyWhenItsObjectIsThere() throws {
        struct ScriptedStore: HTTPTransport {
            /// The object's size, or nil for none.
            let size: Int?
            func send(
                _ request: TransportRequest,
                completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
            ) {
                let error = { (status: Int, code: String) in
                    TransportResponse(
                        status: status,
                        body: Data("<Error><Code>\(code)</Code><Message>m</Message></Error>".utf8)
                    )
                }
                switch (request.method, self.size) {
                case ("POST", _): completion(.success(error(404, "NoSuchUpload")))
                case ("GET", nil): completion(.success(error(404, "NoSuchKey")))
                case ("GET", 0): completion(.success(error(416, "InvalidRange")))
                case ("GET", let size?):
                    completion(
                        .success(
                            TransportResponse(
                                status: 206,
                                headers: ["content-range": "bytes 0-0/\(size)"],
                                body: Data("x".utf8)
                            )
                        )
                    )
                default: completion(.success(error(400, "Unexpected")))
                }
            }
        }
        func steps(objectSize: Int?) -> FileSteps {
            let client = ObjectStorageClient(
                configuration: .init(endpoint: URL(string: "http://127.0.0.1:9")!, bucket: "nightly"),
                credentials: { .init(accessKeyID: "k", secretAccessKey: "s") },
                transport: ScriptedStore(size: objectSize)
            )
            return FileSteps(observer: nil, objectStore: client)
        }
        let location = try #require(ObjectLocation(path: "s3://nightly/exports/faces.ndjson"))
        try steps(objectSize: 120).completeUpload(location, uploadID: "u", parts: ["e"], bytes: 120)
        try steps(objectSize: 0).completeUpload(location, uploadID: "u", parts: ["e"], bytes: 0)
        #expect(throws: SinkError.self, "an object of another size is not this upload's") {
            try steps(objectSize: 121).completeUpload(location, uploadID: "u", parts: ["e"], bytes: 120)
        }
        #expect(throws: SinkError.self, "no object: the upload was aborted, not completed") {
            try steps(objectSize: nil).completeUpload(location, uploadID: "u", parts: ["e"], bytes: 120)
        }
    }

    /// The object's size, as the commit's check reads it, from moto.
    @Test func anObjectsSizeIsReadWithOneByte() throws {
        let server = try MotoServer()
        defer { server.stop() }
        let client = try server.client()
        try client.putObject("exports/faces.ndjson", body: Data(repeating: 7, count: 1234))
        try client.putObject("exports/empty", body: Data())
        #expect(try client.objectSize("exports/faces.ndjson") == 1234)
        #expect(try client.objectSize("exports/empty") == 0)
        #expect(try client.objectSize("exports/none") == nil)
    }
}
