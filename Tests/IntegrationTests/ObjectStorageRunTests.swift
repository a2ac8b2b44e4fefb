import FaceSearchSimulation
import Foundation
import ObjectStorage
import TestSupport
import Testing

/// A night whose outputs go to object storage (moto's server, checking every signature), run by
/// the real binary: the objects, read by boto3, hold every face once; the manifest and `_SUCCESS`
/// come last; no upload stays open; refusals come before any API call, in one line.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ObjectStorageRunTests {
    static let dataset = DatasetGenerator(groups: 6, faces: 400, sizing: .mixed, seed: 3).make()

    static func pipeline(_ server: MotoServer, folder: String, bucket: String? = nil, latency: Double = 0) -> String {
        """
        name: nightly-s3
        endpoint: embedded
        simulator: {groups: 6, faces: 400, seed: 3, faults: {latency: \(latency)}}
        concurrency: 2
        page_size: 100
        rate_limit: {mode: fixed, requests_per_second: \(latency > 0 ? 20 : 1000), burst: \(latency > 0 ? 1 : 10)}
        output_dir: s3://\(bucket ?? server.bucket)/exports
        state: \(folder)/state
        storage: {endpoint: "\(server.endpoint)", path_style: true, proxy: none, checkpoint_interval: 1ms}
        outputs:
          - {format: ndjson, path: "dt={date}/faces.ndjson.gz"}
          - {format: parquet, path: "dt={date}/group={group}/part.parquet"}
        """
    }

    /// The keys of `server`'s user, and a home without AWS files of its own.
    static func environment(_ server: MotoServer, folder: String, secret: String? = nil) -> [String: String] {
        [
            "AWS_ACCESS_KEY_ID": server.accessKeyID, "AWS_SECRET_ACCESS_KEY": secret ?? server.secretAccessKey,
            "HOME": folder, "AWS_PROFILE": "", "AWS_REGION": "",
        ]
    }

    /// What `script` prints, run with boto3 against `server`, off the test threads.
    static func lines(_ server: MotoServer, _ script: String, _ arguments: [String] = []) async throws -> [String] {
        let output = try await offThePool { try server.boto3(script, arguments) }
        return String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// A moto server, started off the test threads.
    static func startServer() async throws -> MotoServer {
        try await offThePool { try MotoServer() }
    }

    static let openUploads = "print(len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))"

    /// Every face of every object (the night's NDJSON and each library's Parquet), as `file group token`.
    static let facesScript = """
        import gzip, io, json, pyarrow.parquet as pq
        for o in s3.list_objects_v2(Bucket=bucket, Prefix='exports/').get('Contents', []):
            body = s3.get_object(Bucket=bucket, Key=o['Key'])['Body'].read()
            if o['Key'].endswith('.ndjson.gz') or o['Key'].endswith('.ndjson'):
                text = gzip.decompress(body) if o['Key'].endswith('.gz') else body
                for line in text.decode('utf-8').split('\\n'):
                    if line: row = json.loads(line); print('ndjson', row['group_id'], row['face_token'])
            elif o['Key'].endswith('.parquet'):
                t = pq.read_table(io.BytesIO(body), columns=['group_id', 'face_token'])
                for g, f in zip(t.column(0).to_pylist(), t.column(1).to_pylist()): print('parquet', g, f)
        """

    static var expectedFaces: [String] {
        Self.dataset.groups.flatMap { group in group.faces.map { group.groupID + " " + $0.faceToken } }.sorted()
    }

    /// Expects each of `expected` (`group token`) once in the night's NDJSON and once in its Parquet.
    static func expectEveryFaceOnce(
        _ server: MotoServer,
        _ expected: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let faces = try await Self.lines(server, Self.facesScript)
        let ndjson = faces.filter { $0.hasPrefix("ndjson ") }.map { String($0.dropFirst(7)) }.sorted()
        let parquet = faces.filter { $0.hasPrefix("parquet ") }.map { String($0.dropFirst(8)) }.sorted()
        #expect(ndjson == expected, "NDJSON", sourceLocation: sourceLocation)
        #expect(parquet == expected, "Parquet", sourceLocation: sourceLocation)
    }

    /// The steps a run logged at `path` (`FACEEXPORT_TEST_STEP_LOG`), as `kind path`.
    static func steps(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
    }

    /// Every face of the simulator's dataset of `groups` libraries of `faces`, as `group token`.
    static func expectedFaces(_ groups: Int, _ faces: Int) -> [String] {
        DatasetGenerator(groups: groups, faces: faces, sizing: .mixed, seed: 3).make().groups.flatMap { group in
            group.faces.map { group.groupID + " " + $0.faceToken }
        }.sorted()
    }

    @Test func aNightInObjectStorageHoldsEveryFaceOnceWithItsManifestAndNoOpenUpload() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(server, folder: folder).write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        let run = try await CommandLineTests.faceexport(
            ["run", folder + "/s3.yaml"],
            environment: Self.environment(server, folder: folder)
        )
        #expect(run.status == 0, "\(run.stderr)")
        let faces = try await Self.lines(server, Self.facesScript)
        #expect(faces.filter { $0.hasPrefix("ndjson ") }.map { String($0.dropFirst(7)) }.sorted() == Self.expectedFaces)
        #expect(
            faces.filter { $0.hasPrefix("parquet ") }.map { String($0.dropFirst(8)) }.sorted() == Self.expectedFaces
        )

        let keys = try await Self.lines(
            server,
            "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket=bucket)['Contents']))"
        )
        let date = try #require(keys.first { $0.hasPrefix("exports/dt=") }?.split(separator: "/")[1])
        #expect(keys.contains("exports/manifest.json") && keys.contains("exports/_SUCCESS"))
        #expect(keys.contains("exports/\(date)/_SUCCESS") && keys.contains("exports/\(date)/faces.ndjson.gz"))
        let withFaces = Self.dataset.groups.filter { !$0.faces.isEmpty }.count
        #expect(keys.filter { $0.hasSuffix("/part.parquet") }.count == withFaces, "a file per library with faces")
        let manifest = try await Self.lines(
            server,
            """
            import json, hashlib
            m = json.loads(s3.get_object(Bucket=bucket, Key='exports/manifest.json')['Body'].read())
            print(m['outcome'])
            for f in m['files']:
                key = f['path'].split('/', 3)[3]
                body = s3.get_object(Bucket=bucket, Key=key)['Body'].read()
                print(f['path'].startswith('s3://' + bucket + '/exports/'), f['bytes'] == len(body),
                      f['sha256'] == hashlib.sha256(body).hexdigest())
            """
        )
        #expect(manifest.first == "complete")
        #expect(manifest.dropFirst().count == withFaces + 1)
        #expect(manifest.dropFirst().allSatisfy { $0 == "True True True" }, "\(manifest)")
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])
        #expect(!FileManager.default.fileExists(atPath: folder + "/state/.faceexport/nightly-s3.journal"))
    }

    @Test func partsAreAsLargeAsStoragePartSizeSays() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        // About 7 MB of NDJSON: two parts of 5 MiB, where 16 MiB makes one.
        let pipeline = Self.largeNightPipeline(server, folder: folder, latency: 0)
        try pipeline.write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        let run = try await CommandLineTests.faceexport(
            ["run", folder + "/s3.yaml"],
            environment: Self.environment(server, folder: folder)
        )
        #expect(run.status == 0, "\(run.stderr)")
        let parts = try await Self.lines(
            server,
            """
            head = s3.head_object(Bucket=bucket, Key='exports/faces.ndjson', PartNumber=1)
            print(head['ContentLength'], head.get('PartsCount', 1))
            print(s3.head_object(Bucket=bucket, Key='exports/faces.ndjson')['ContentLength'])
            """
        )
        let first = try #require(parts.first?.split(separator: " ").compactMap { Int($0) })
        let size = try #require(parts.last.flatMap { Int($0) })
        #expect(size > 5 << 20, "enough bytes for two parts")
        #expect(first == [5 << 20, (size + (5 << 20) - 1) / (5 << 20)], "\(parts)")
    }

    @Test func theStoreIsReachedOverHTTPSThroughAProxyTrustingThePrivateCAThePipelineNames() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        let ca = try await offThePool { try PrivateCATests.makeCertificates(in: folder) }
        let (tls, port) = try await PrivateCATests.startTLS(in: folder, target: server.endpoint)
        defer {
            kill(tls.processIdentifier, SIGKILL)
            tls.waitUntilExit()
        }
        let proxy = try await ProxyTests.Proxy(folder: folder, extra: ["ConnectPort \(port)"])
        func run(_ trust: String) async throws -> CommandLineTests.Outcome {
            let storage =
                "storage: {endpoint: \"https://127.0.0.1:\(port)\", path_style: true, "
                + "proxy: {url: \"http://127.0.0.1:\(proxy.port)\"}\(trust)}"
            let pipeline = Self.pipeline(server, folder: folder).replacingOccurrences(
                of:
                    "storage: {endpoint: \"\(server.endpoint)\", path_style: true, proxy: none, checkpoint_interval: 1ms}",
                with: storage
            )
            try pipeline.write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
            return try await CommandLineTests.faceexport(
                ["run", folder + "/s3.yaml"],
                environment: Self.environment(server, folder: folder)
            )
        }
        // The store's certificate is signed by a CA the system does not know: refused before any
        // API call, in one line, nothing written.
        let untrusted = try await run("")
        #expect(untrusted.status == 3, "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("SSL certificate problem"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("name it in storage.tls.ca_file"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.split(separator: "\n").count == 1, "one line: \(untrusted.stderr)")
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])

        let trusted = try await run(", tls: {ca_file: \"\(ca)\"}")
        let log = proxy.stop()
        #expect(trusted.status == 0, "\(trusted.stderr)")
        let faces = try await Self.lines(server, Self.facesScript)
        #expect(faces.filter { $0.hasPrefix("ndjson ") }.map { String($0.dropFirst(7)) }.sorted() == Self.expectedFaces)
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])
        #expect(log.contains("CONNECT 127.0.0.1:\(port)"), "the calls went through the proxy: \(log)")
    }

    @Test func aStoreDownForTwentySecondsMidRunIsRiddenOut() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let forwarder = try SwitchableForwarder(target: server.endpoint)
        defer { forwarder.stop() }
        let folder = try makeTemporaryDirectory()
        // Paced at 20 calls/s, the walk takes a few seconds; the store goes away once it has
        // answered its first call (the check before the walk, on a connection of its own), so
        // every upload meets the outage.
        let pipeline = Self.pipeline(server, folder: folder, latency: 0.01).replacingOccurrences(
            of: "endpoint: \"\(server.endpoint)\"",
            with: "endpoint: \"\(forwarder.url)\""
        )
        try pipeline.write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        let environment = Self.environment(server, folder: folder)
        async let night = CommandLineTests.faceexport(["run", folder + "/s3.yaml"], environment: environment)
        try await runOffThePool { Result { try forwarder.waitForFirstAnswer() } }.get()
        // The outage itself, as long as the issue names: not a wait for anything to happen.
        try await Task.sleep(for: .seconds(20))
        let refused = try forwarder.up()
        let run = try await night
        #expect(run.status == 0, "\(run.stderr)")
        #expect(refused >= 3, "the run kept calling the store while it was down: \(refused)")
        #expect(run.stderr.contains("object storage failed a call; trying again"), "said in the log: \(run.stderr)")
        let faces = try await Self.lines(server, Self.facesScript)
        #expect(faces.filter { $0.hasPrefix("ndjson ") }.map { String($0.dropFirst(7)) }.sorted() == Self.expectedFaces)
        #expect(
            faces.filter { $0.hasPrefix("parquet ") }.map { String($0.dropFirst(8)) }.sorted() == Self.expectedFaces
        )
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])
    }

    @Test func aWrongSecretFailsBeforeAnyCallAndAMissingBucketIsAConfigurationError() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(server, folder: folder).write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        let wrong = "wrong-secret-0123456789"
        let refused = try await CommandLineTests.faceexport(
            ["run", folder + "/s3.yaml"],
            environment: Self.environment(server, folder: folder, secret: wrong)
        )
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("SignatureDoesNotMatch") && refused.stderr.contains("s3://nightly/exports"))
        #expect(!refused.stderr.contains(wrong))
        #expect(!refused.stderr.contains("requests"), "no API call was made: \(refused.stderr)")

        try Self.pipeline(server, folder: folder, bucket: "not-there").write(
            toFile: folder + "/missing.yaml",
            atomically: true,
            encoding: .utf8
        )
        let missing = try await CommandLineTests.faceexport(
            ["run", folder + "/missing.yaml"],
            environment: Self.environment(server, folder: folder)
        )
        #expect(missing.status == 4, "\(missing.stderr)")
        #expect(missing.stderr.contains("NoSuchBucket") && missing.stderr.contains("create the bucket"))
        #expect(try await Self.lines(server, "print(s3.list_objects_v2(Bucket=bucket)['KeyCount'])") == ["0"])
    }

    /// Killed mid-run, the night leaves its uploads open and last night's objects as they were; the
    /// next run (here `--resume`) aborts them, sends its files again and commits every face once.
    @Test func aKilledNightLeavesLastNightsObjectsAndItsResumeLeavesNoUploadOpen() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(server, folder: folder, latency: 0.05).write(
            toFile: folder + "/slow.yaml",
            atomically: true,
            encoding: .utf8
        )
        try Self.pipeline(server, folder: folder).write(
            toFile: folder + "/fast.yaml",
            atomically: true,
            encoding: .utf8
        )
        let client = try server.client()
        let lastNight = Data("last night's manifest\n".utf8)
        try client.putObject("exports/manifest.json", body: lastNight)

        let environment = Self.environment(server, folder: folder)
        let run = try await OperationsTests.startSlowRun(
            folder + "/slow.yaml",
            libraries: 3,
            signal: SIGKILL,
            environment: environment
        )
        _ = await OperationsTests.wait(run)
        #expect(try client.getObject("exports/manifest.json") == lastNight, "last night's objects as they were")
        #expect(try await Self.lines(server, Self.openUploads) != ["0"], "the killed night's uploads are open")
        // Killed just after the store began an upload, before the journal named it: the store has
        // it at a path of the night's; another pipeline's upload beside it is not the night's.
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        let date = formatter.string(from: Date())
        _ = try client.createMultipartUpload("exports/dt=\(date)/group=grp-unjournaled/part.parquet")
        let others = try client.createMultipartUpload("exports/other-pipeline/faces.ndjson")

        let resumed = try await CommandLineTests.faceexport(
            ["run", folder + "/fast.yaml", "--resume"],
            environment: environment
        )
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let faces = try await Self.lines(server, Self.facesScript)
        #expect(faces.filter { $0.hasPrefix("ndjson ") }.map { String($0.dropFirst(7)) }.sorted() == Self.expectedFaces)
        #expect(
            faces.filter { $0.hasPrefix("parquet ") }.map { String($0.dropFirst(8)) }.sorted() == Self.expectedFaces
        )
        let open = try await Self.lines(
            server,
            "print('\\n'.join(u['UploadId'] for u in s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))"
        )
        #expect(open == [others], "no orphaned upload of the night, the other pipeline's left alone")
    }

    /// Killed after its uploads sent parts and stored their tails, the night is resumed: its
    /// uploads are continued, not sent again (the tails read back, no upload started again for
    /// the night's file), and every face is in the objects once; no upload or tail stays behind.
    /// Also on a store that lists uploads as MinIO does.
    @Test(arguments: [false, true])
    func aKilledNightsResumeContinuesItsUploads(wholeKeyListing: Bool) async throws {
        let server = try await offThePool { try MotoServer(listingUploadsByWholeKey: wholeKeyListing) }
        defer { server.stop() }
        let (folder, killedRunsEnvironment) = try await Self.killedLargeNight(server)
        var environment = killedRunsEnvironment
        let tails = try await Self.lines(
            server,
            "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix='exports/.faceexport/').get('Contents', [])))"
        )
        #expect(tails.contains { $0.hasSuffix(".tail") }, "the killed night stored tails: \(tails)")

        environment["FACEEXPORT_TEST_STEP_LOG"] = folder + "/steps.log"
        let resumed = try await CommandLineTests.faceexport(
            ["run", folder + "/fast.yaml", "--resume"],
            environment: environment
        )
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let steps = try Self.steps(folder + "/steps.log")
        let night = "s3://\(server.bucket)/exports/faces.ndjson"
        #expect(!steps.contains("start-upload \(night)"), "the night's upload continued")
        #expect(steps.contains("upload-part \(night)"), "and its last part sent")
        #expect(steps.contains { $0.hasPrefix("get-object ") && $0.hasSuffix(".tail") }, "from its tail")
        try await Self.expectEveryFaceOnce(server, Self.expectedFaces(60, 1000))
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])
        let left = try await Self.lines(
            server,
            "print(s3.list_objects_v2(Bucket=bucket, Prefix='exports/.faceexport/')['KeyCount'])"
        )
        #expect(left == ["0"], "no tail left")
    }

    /// Killed after storing tails, then resumed from tails its checkpoints do not vouch for (damaged
    /// in the bucket): the resumed run stops in one line (exit 3) and leaves no upload open, neither
    /// its own nor the killed run's; the next run without `--resume` commits every face once.
    @Test func aResumeRefusingADamagedTailLeavesNoUploadOpen() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let (folder, environment) = try await Self.killedLargeNight(server)
        let client = try server.client()
        let tails = try client.listObjects(prefix: "exports/.faceexport/").filter { $0.size > 0 }
        #expect(!tails.isEmpty, "the killed night stored tails")
        for tail in tails {
            var bytes = [UInt8](try client.getObject(tail.key))
            bytes[bytes.count / 2] ^= 1
            try client.putObject(tail.key, body: Data(bytes))
        }

        let refused = try await CommandLineTests.faceexport(
            ["run", folder + "/fast.yaml", "--resume"],
            environment: environment
        )
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("that its checkpoint does not vouch for; run without --resume to start over"))
        #expect(try await Self.lines(server, Self.openUploads) == ["0"], "no upload of either run left open")

        let next = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml"], environment: environment)
        #expect(next.status == 0, "\(next.stderr)")
        try await Self.expectEveryFaceOnce(server, Self.expectedFaces(60, 1000))
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])
    }

    /// Killed mid-upload, then run again without `--resume`: the next run aborts the killed run's
    /// uploads (none stays open, another pipeline's left alone) and commits every face once. With
    /// the journal then damaged in the line that names the run, the uploads are found by their
    /// paths. On a store that lists uploads as MinIO does (a prefix that is not a whole key lists
    /// none), they are found in the bucket's listing.
    @Test(arguments: [(wholeKeyListing: false, damaged: true), (true, false), (true, true)])
    func aKilledNightsUploadsAreAbortedByTheNextRun(wholeKeyListing: Bool, damaged: Bool) async throws {
        let server = try await offThePool { try MotoServer(listingUploadsByWholeKey: wholeKeyListing) }
        defer { server.stop() }
        let (folder, environment) = try await Self.killedLargeNight(server)
        #expect(try await Self.lines(server, Self.openUploads) != ["0"], "the killed night's uploads are open")
        let client = try server.client()
        let others = try client.createMultipartUpload("exports/other-pipeline/faces.ndjson")
        if damaged {
            let journal = folder + "/state/.faceexport/nightly-s3.journal"
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: journal)))
            bytes.replaceSubrange(0..<20, with: Array(String(repeating: "X", count: 20).utf8))
            try Data(bytes).write(to: URL(fileURLWithPath: journal))
        }

        let next = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml"], environment: environment)
        #expect(next.status == 0, "\(next.stderr)")
        if damaged {
            #expect(next.stderr.contains("nightly-s3.journal is damaged at byte 0"), "\(next.stderr)")
        }
        try await Self.expectEveryFaceOnce(server, Self.expectedFaces(60, 1000))
        let open = try await Self.lines(
            server,
            "print('\\n'.join(u['UploadId'] for u in s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])))"
        )
        #expect(open == [others], "no orphaned upload of the night, the other pipeline's left alone")
        let left = try await Self.lines(
            server,
            "print(s3.list_objects_v2(Bucket=bucket, Prefix='exports/.faceexport/')['KeyCount'])"
        )
        #expect(left == ["0"], "no tail left")
    }

    /// A large night (`largeNightPipeline`) in a new folder, slowed down and killed with SIGKILL
    /// once its uploads have sent parts; `fast.yaml` beside it is the same night at full speed.
    static func killedLargeNight(_ server: MotoServer) async throws -> (folder: String, environment: [String: String]) {
        let folder = try makeTemporaryDirectory()
        try Self.largeNightPipeline(server, folder: folder, latency: 0.05)
            .write(toFile: folder + "/slow.yaml", atomically: true, encoding: .utf8)
        try Self.largeNightPipeline(server, folder: folder, latency: 0)
            .write(toFile: folder + "/fast.yaml", atomically: true, encoding: .utf8)
        let environment = Self.environment(server, folder: folder)
        let run = try await OperationsTests.startSlowRun(
            folder + "/slow.yaml",
            libraries: 52,
            signal: SIGKILL,
            environment: environment
        )
        #expect(await OperationsTests.wait(run) == SIGKILL)
        return (folder, environment)
    }

    /// The pipeline of `aKilledNightsResumeContinuesItsUploads`, its state in the bucket.
    static func bucketStatePipeline(_ server: MotoServer, folder: String, latency: Double) -> String {
        Self.largeNightPipeline(server, folder: folder, latency: latency)
            .replacingOccurrences(of: "state: \(folder)/state", with: "state: s3://\(server.bucket)/exports/state")
    }

    /// 60,000 faces into one NDJSON (about 7 MB, a part of 5 MiB sent after some 45 libraries)
    /// and a Parquet file per library.
    static func largeNightPipeline(_ server: MotoServer, folder: String, latency: Double) -> String {
        Self.pipeline(server, folder: folder, latency: latency)
            .replacingOccurrences(of: "{groups: 6, faces: 400, seed: 3,", with: "{groups: 60, faces: 1000, seed: 3,")
            .replacingOccurrences(of: "page_size: 100", with: "page_size: 1000")
            .replacingOccurrences(of: "path_style: true,", with: "path_style: true, part_size: 5MiB,")
            .replacingOccurrences(of: "dt={date}/faces.ndjson.gz", with: "faces.ndjson")
    }

    static let stateObjects =
        "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix='exports/state/').get('Contents', [])))"

    /// With its state in the bucket (a pod without a volume), a night killed on one machine is
    /// resumed on another from the journal the bucket holds, once the dead run's lock has expired,
    /// by a retry that passes `--resume-if-interrupted` every time: its uploads continued, every
    /// face once, nothing of the state left after the commit.
    @Test func aNightWithItsStateInTheBucketIsResumedElsewhereFromIt() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        try Self.bucketStatePipeline(server, folder: folder, latency: 0.05)
            .write(toFile: folder + "/slow.yaml", atomically: true, encoding: .utf8)
        try Self.bucketStatePipeline(server, folder: folder, latency: 0)
            .write(toFile: folder + "/fast.yaml", atomically: true, encoding: .utf8)
        var environment = Self.environment(server, folder: folder)
        environment["TMPDIR"] = try makeTemporaryDirectory()
        // A scheduler's retry cannot tell whether there is a run to resume: here there is none.
        let run = try await OperationsTests.startSlowRun(
            folder + "/slow.yaml --resume-if-interrupted",
            libraries: 52,
            signal: SIGKILL,
            environment: environment
        )
        #expect(await OperationsTests.wait(run) == SIGKILL)
        let state = try await Self.lines(server, Self.stateObjects)
        #expect(
            state == ["exports/state/.faceexport/nightly-s3.journal", "exports/state/.faceexport/nightly-s3.lock"],
            "\(state)"
        )

        // Another machine: another private folder. The dead run's lock holds it off until it expires.
        environment["TMPDIR"] = try makeTemporaryDirectory()
        let held = try await CommandLineTests.faceexport(
            ["run", folder + "/fast.yaml", "--resume-if-interrupted"],
            environment: environment
        )
        #expect(held.status == 5, "\(held.stderr)")
        #expect(held.stderr.contains("holds the lock s3://\(server.bucket)/exports/state/.faceexport/nightly-s3.lock"))
        let client = try server.client()
        var lock = try #require(
            try JSONSerialization.jsonObject(with: try client.getObject("exports/state/.faceexport/nightly-s3.lock"))
                as? [String: Any]
        )
        #expect((lock["holder"] as? String)?.hasPrefix("pid ") == true)
        lock["expires"] = Date().timeIntervalSince1970 - 1
        try client.putObject(
            "exports/state/.faceexport/nightly-s3.lock",
            body: try JSONSerialization.data(withJSONObject: lock)
        )

        environment["FACEEXPORT_TEST_STEP_LOG"] = folder + "/steps.log"
        let resumed = try await CommandLineTests.faceexport(
            ["run", folder + "/fast.yaml", "--resume-if-interrupted"],
            environment: environment
        )
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("took over a lock whose run is gone"))
        let steps = try Self.steps(folder + "/steps.log")
        #expect(!steps.contains("start-upload s3://\(server.bucket)/exports/faces.ndjson"), "the upload continued")
        try await Self.expectEveryFaceOnce(server, Self.expectedFaces(60, 1000))
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])
        #expect(try await Self.lines(server, Self.stateObjects).isEmpty, "no journal, lock or commit record left")
        let left = try FileManager.default.contentsOfDirectory(atPath: environment["TMPDIR"]!)
        #expect(left.isEmpty, "the private folder removed: \(left)")
    }

    /// A state in the bucket must be in the outputs' bucket, named by line and key.
    @Test func aStateInAnotherBucketIsRefusedWithItsLine() async throws {
        let folder = try makeTemporaryDirectory()
        let pipeline = """
            name: nightly-s3
            endpoint: embedded
            output_dir: s3://nightly/exports
            state: s3://elsewhere/state
            outputs: [{format: ndjson, path: faces.ndjson}]
            """
        try pipeline.write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        let run = try await CommandLineTests.faceexport(["validate", folder + "/s3.yaml"])
        #expect(run.status == 4)
        #expect(
            run.stderr.contains(
                "s3.yaml:4: state: a state in object storage must be in the bucket of output_dir (s3://BUCKET/PREFIX)"
            ),
            "\(run.stderr)"
        )
    }

    /// Killed between two completions of its commit, the night is finished by the next start from
    /// its commit record: the upload completed the first time counts as done, the rest complete,
    /// then the manifest and `_SUCCESS`.
    @Test func aCommitKilledBetweenTwoUploadsIsFinishedByTheNextStart() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(server, folder: folder).write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        var environment = Self.environment(server, folder: folder)
        environment["FACEEXPORT_TEST_STEP_LOG"] = folder + "/steps.log"
        let counted = try await CommandLineTests.faceexport(["run", folder + "/s3.yaml"], environment: environment)
        #expect(counted.status == 0, "\(counted.stderr)")
        let steps = try String(contentsOfFile: folder + "/steps.log", encoding: .utf8).split(separator: "\n")
        let completions = steps.filter { $0.split(separator: " ")[1] == "complete-upload" }
        #expect(completions.count == 6)
        let second = try #require(completions.dropFirst().first?.split(separator: " ").first)

        environment["FACEEXPORT_TEST_STEP_LOG"] = nil
        environment["FACEEXPORT_TEST_CRASH_AT"] = String(second)
        let killed = try await CommandLineTests.faceexport(["run", folder + "/s3.yaml"], environment: environment)
        #expect(killed.status == SIGKILL)
        #expect(try await Self.lines(server, Self.openUploads) == ["5"], "one completed, five waiting")

        environment["FACEEXPORT_TEST_CRASH_AT"] = nil
        let finished = try await CommandLineTests.faceexport(
            ["run", folder + "/s3.yaml", "--resume"],
            environment: environment
        )
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(finished.stderr.contains("that is now finished"))
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])
        let faces = try await Self.lines(server, Self.facesScript)
        #expect(faces.filter { $0.hasPrefix("ndjson ") }.map { String($0.dropFirst(7)) }.sorted() == Self.expectedFaces)
        // The manifest is the killed night's, whose commit was finished: not the first night's.
        let manifestRun = try #require(
            try await Self.lines(
                server,
                "import json; print(json.loads(s3.get_object(Bucket=bucket, Key='exports/manifest.json')['Body'].read())['run_id'])"
            ).first
        )
        #expect(finished.stderr.contains("run \(manifestRun) was interrupted while putting its outputs in place"))
        #expect(!counted.stderr.contains(manifestRun))
    }

    /// A pod's service account: no keys, a web identity token in a file and a role. The token is
    /// exchanged with STS for the role's keys (with a session token), which moto checks on every
    /// call; a token STS refuses stops the run before any API call, without showing the token.
    @Test func aWebIdentityIsExchangedForTheRolesKeys() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let token = "eyJhbGciOiJSUzI1NiJ9.service-account.signature"
        let sts = try WebIdentitySTS(moto: server, token: token)
        defer { sts.stop() }
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(server, folder: folder).write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        try token.write(toFile: folder + "/token", atomically: true, encoding: .utf8)
        let environment = [
            "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "HOME": folder, "AWS_REGION": "",
            "AWS_WEB_IDENTITY_TOKEN_FILE": folder + "/token", "AWS_ROLE_ARN": server.roleARN,
            "AWS_ENDPOINT_URL_STS": sts.endpoint,
        ]
        let run = try await CommandLineTests.faceexport(["run", folder + "/s3.yaml"], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        let faces = try await Self.lines(server, Self.facesScript)
        #expect(faces.filter { $0.hasPrefix("ndjson ") }.map { String($0.dropFirst(7)) }.sorted() == Self.expectedFaces)
        #expect(try await Self.lines(server, Self.openUploads) == ["0"])

        let stolen = "eyJhbGciOiJSUzI1NiJ9.someone-else.signature"
        try stolen.write(toFile: folder + "/token", atomically: true, encoding: .utf8)
        let refused = try await CommandLineTests.faceexport(["run", folder + "/s3.yaml"], environment: environment)
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("InvalidIdentityToken") && !refused.stderr.contains(stolen))
    }

    /// `validate --check-storage` calls the store once and the API never: the bucket, the keys and
    /// the policy, with the exit codes a run would give.
    @Test func validateChecksTheStorageWhenAsked() async throws {
        let server = try await Self.startServer()
        defer { server.stop() }
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(server, folder: folder).write(toFile: folder + "/s3.yaml", atomically: true, encoding: .utf8)
        try Self.pipeline(server, folder: folder, bucket: "not-there").write(
            toFile: folder + "/missing.yaml",
            atomically: true,
            encoding: .utf8
        )
        let environment = Self.environment(server, folder: folder)
        let good = try await CommandLineTests.faceexport(
            ["validate", "--check-storage", folder + "/s3.yaml"],
            environment: environment
        )
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("storage: s3://\(server.bucket)/exports: the bucket answers"))
        let unchecked = try await CommandLineTests.faceexport(
            ["validate", folder + "/s3.yaml"],
            environment: Self.environment(server, folder: folder, secret: "wrong")
        )
        #expect(unchecked.status == 0, "without the flag, the store is not called")
        let refused = try await CommandLineTests.faceexport(
            ["validate", "--check-storage", folder + "/s3.yaml"],
            environment: Self.environment(server, folder: folder, secret: "wrong")
        )
        #expect(refused.status == 3 && refused.stderr.contains("SignatureDoesNotMatch"), "\(refused.stderr)")
        let missing = try await CommandLineTests.faceexport(
            ["validate", "--check-storage", folder + "/missing.yaml"],
            environment: environment
        )
        #expect(missing.status == 4 && missing.stderr.contains("NoSuchBucket"), "\(missing.stderr)")
    }
}
