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
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ObjectOutputTests {
    static let source = RecordSource(account: "a", groupID: "g0")
    /// Parts of 16 KiB, and a server that refuses smaller ones but the last, as S3 refuses parts
    /// under 5 MiB.
    static let partSize = 16 << 10

    static func sink(
        _ format: OutputSink.Format,
        _ path: String,
        tailFolder: String? = nil,
        partsInFlight: Int = 1,
        steps: FileSteps = .direct
    ) throws -> OutputSink {
        var configuration = OutputSink.Configuration(format: format, path: try OutputPathTemplate(path))
        configuration.partSize = Self.partSize
        configuration.tailFolder = tailFolder
        configuration.partsInFlight = partsInFlight
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

    /// The last of `checkpoints` with every part and row group of them, as a resumed run's journal has it.
    static func accumulated(_ checkpoints: ArraySlice<FileCheckpoint>) -> FileCheckpoint {
        var last = checkpoints.last!
        last.uploadParts = checkpoints.flatMap { $0.uploadParts ?? [] }
        last.parquetRowGroups = checkpoints.filter(\.isExact).flatMap { $0.parquetRowGroups ?? [] }
        return last
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
        // Without a tail folder an upload cannot be continued: no checkpoint vouches for it, and
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

    @Test(arguments: [1, 4])
    func everyPartButTheLastIsExactlyThePartSizeWhateverTheWrites(partsInFlight: Int) throws {
        let server = try MotoServer(minimumPartSize: Self.partSize)
        defer { server.stop() }
        let steps = FileSteps(observer: nil, objectStore: try server.client())
        let part = Self.partSize
        // Small writes, a write that ends a part exactly, one of a part and more with nothing
        // waiting (sent from the writer's bytes), one of several parts with bytes waiting.
        let sizes = [1, part - 1, part, 2 * part + 7, 3, 3 * part + 5, part - 3, 1, 4 * part, 10]
        var bytes: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        let upload = try ObjectUpload(
            path: "s3://\(server.bucket)/parts.bin",
            partSize: part,
            tailFolder: nil,
            partsInFlight: partsInFlight,
            steps: steps
        )
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

    /// Killed after parts were sent beyond its last checkpoint that stored the tail, an upload is
    /// continued by the resumed run from that checkpoint (its tail read back, its digest taken up,
    /// the parts sent after it sent again): the object is byte for byte the uninterrupted file.
    @Test(
        arguments: [
            ("faces.ndjson.gz", OutputSink.Format.ndjson), ("faces.csv", .csv), ("faces.parquet", .parquet),
        ],
        [1, 3]
    )
    func aContinuedUploadIsByteForByteTheUninterruptedFile(
        file: (name: String, format: OutputSink.Format),
        partsInFlight: Int
    ) throws {
        let (name, format) = file
        let server = try MotoServer(minimumPartSize: Self.partSize)
        defer { server.stop() }
        let client = try server.client()
        let steps = FileSteps(observer: nil, objectStore: client)
        let folder = try makeTemporaryDirectory()
        let tails = "s3://\(server.bucket)/exports/.faceexport/nightly/r1/"
        let path = "s3://\(server.bucket)/exports/dt={date}/" + name
        let local = try Self.sink(format, folder + "/" + name)
        for batch in Self.batches {
            try local.write(batch, from: Self.source)
            _ = try local.checkpoint(Self.source, finished: false)
        }
        let onDisk = try #require(try local.commit(CommitContext.sample()).first)

        // The checkpoints as a run journals them: the tail stored whenever a part was sent or a
        // row group ended.
        let interrupted = try Self.sink(format, path, tailFolder: tails, partsInFlight: partsInFlight, steps: steps)
        var checkpoints: [FileCheckpoint] = []
        for batch in Self.batches.prefix(200) {
            try interrupted.write(batch, from: Self.source)
            let filled = interrupted.takeFilledRowGroup()
            let storing = interrupted.takeSentPart() || filled
            checkpoints.append(try #require(try interrupted.checkpoint(Self.source, finished: false, storing: storing)))
        }
        // Only the two last tails are kept: the run continues from the first of them.
        let stored = try client.listObjects(prefix: "exports/.faceexport/nightly/r1/")
        #expect(stored.count == 2, "\(stored.map(\.key))")
        let exacts = checkpoints.indices.filter { checkpoints[$0].isExact && checkpoints[$0].uploadDigest != nil }
        let exact = try #require(exacts.dropLast().last)
        #expect(checkpoints[(exact + 1)...].contains { $0.uploadParts != nil }, "parts were sent after it")
        let resume = Self.accumulated(checkpoints.prefix(exact + 1))

        // The process dies here: nothing is finished or aborted. A resumed run continues.
        let resumed = try Self.sink(format, path, tailFolder: tails, partsInFlight: partsInFlight, steps: steps)
        try resumed.resume([resume])
        // Every row after the checkpoint's (Parquet: after its last row group) comes again.
        let rowsPerBatch = Self.batches[0].count
        #expect(resume.rows % rowsPerBatch == 0)
        for batch in Self.batches.dropFirst(resume.rows / rowsPerBatch) {
            try resumed.write(batch, from: Self.source)
            _ = try resumed.checkpoint(Self.source, finished: false)
        }
        let uploaded = try #require(try resumed.commit(CommitContext.sample()).first)
        #expect(uploaded.rows == onDisk.rows && uploaded.bytes == onDisk.bytes && uploaded.sha256 == onDisk.sha256)
        let read = try Self.boto3Lines(
            server,
            """
            import hashlib
            body = s3.get_object(Bucket=bucket, Key=sys.argv[1])['Body'].read()
            print(len(body)); print(hashlib.sha256(body).hexdigest())
            """,
            ["exports/dt=2026-12-06/" + name]
        )
        #expect(read == ["\(onDisk.bytes)", onDisk.sha256], "boto3 reads the bytes written to disk")
        #expect(try Self.boto3Lines(server, Self.openUploads) == ["0"], "the one upload, completed")
    }

    /// A tail the checkpoint does not vouch for (other bytes under its name) stops the resumed run
    /// in one line.
    @Test func aTailItsCheckpointDoesNotVouchForIsRefused() throws {
        let server = try MotoServer(minimumPartSize: Self.partSize)
        defer { server.stop() }
        let client = try server.client()
        let steps = FileSteps(observer: nil, objectStore: client)
        let tails = "s3://\(server.bucket)/t/"
        let path = "s3://\(server.bucket)/faces.ndjson"
        let interrupted = try Self.sink(.ndjson, path, tailFolder: tails, steps: steps)
        var checkpoints: [FileCheckpoint] = []
        for batch in Self.batches.prefix(40) {
            try interrupted.write(batch, from: Self.source)
            let storing = interrupted.takeSentPart()
            checkpoints.append(try #require(try interrupted.checkpoint(Self.source, finished: false, storing: storing)))
            if storing { break }
        }
        let resume = Self.accumulated(checkpoints[...])
        #expect(resume.uploadDigest != nil)
        let tail = ObjectUploadTail.path(folder: tails, object: path, bytes: resume.bytes)
        let key = String(tail.dropFirst("s3://\(server.bucket)/".count))
        var damaged = [UInt8](try client.getObject(key))
        damaged[damaged.count / 2] ^= 1
        try client.putObject(key, body: Data(damaged))
        let resumed = try Self.sink(.ndjson, path, tailFolder: tails, steps: steps)
        #expect {
            try resumed.resume([resume])
        } throws: { error in
            "\(error)".hasPrefix(
                "the upload to \(path) has a stored tail (\(tail)) that its checkpoint does not vouch for"
            )
                && "\(error)".hasSuffix("run without --resume to start over")
        }
    }

    /// Parts in flight: their ETags count in order, up to the first still missing; the first part
    /// that failed fails the upload when it next sends or waits.
    @Test func partsInFlightCountInOrderAndTheFirstFailureFailsTheUpload() throws {
        let sender = PartSender(limit: 3)
        let second = DispatchSemaphore(value: 0)
        try sender.send(number: 1) { "e1" }
        try sender.send(number: 2) { () throws(SinkError) -> String in
            second.wait()
            return "e2"
        }
        try sender.send(number: 3) { "e3" }
        // Part 3 may have arrived, part 2 not: only part 1 counts yet.
        while sender.sentWithoutGap(after: []).isEmpty {}
        #expect(sender.sentWithoutGap(after: []) == ["e1"])
        second.signal()
        try sender.drain()
        #expect(sender.sentWithoutGap(after: ["e1"]) == ["e1", "e2", "e3"])
        try sender.send(number: 4) { () throws(SinkError) -> String in throw .storage("part 4 refused") }
        #expect {
            try sender.drain()
        } throws: { error in
            "\(error)" == "part 4 refused"
        }
        #expect {
            try sender.send(number: 5) { "e5" }
        } throws: { error in
            "\(error)" == "part 4 refused"
        }
        #expect(sender.sentWithoutGap(after: ["e1", "e2", "e3"]) == ["e1", "e2", "e3"])
    }

    @Test func aDigestTakenUpFromItsSavedStateEndsAsTheWholeDigest() throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<10_007).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for cut in [0, 1, 63, 64, 65, 4_097, 10_007] {
            var first = ResumableSHA256()
            bytes.prefix(cut).withUnsafeBytes { first.update($0) }
            var second = try #require(ResumableSHA256(savedState: first.savedState))
            bytes.dropFirst(cut).withUnsafeBytes { second.update($0) }
            #expect(second.hexDigestSoFar() == Self.sha256(bytes), "cut at \(cut)")
        }
        #expect(ResumableSHA256(savedState: [1, 2, 3]) == nil)
        var overfull = ResumableSHA256().savedState
        overfull[overfull.count - 8] = 200  // `num`: more than a block waiting
        #expect(ResumableSHA256(savedState: overfull) == nil)
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
