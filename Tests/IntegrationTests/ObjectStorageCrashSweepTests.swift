import Foundation
import ObjectStorage
import TestSupport
import Testing

/// Every point of a night in object storage, its state in the bucket, is safe to die at.
///
/// The real binary is killed (SIGKILL) before its N-th step, for every third N (every N with
/// `FACEEXPORT_LONG_SWEEP=1`) of a small run with
/// parts of 2 KiB (so that its uploads send parts, store tails and are continued), then the dead
/// run's lock is let expire and the next attempt runs with `--resume-if-interrupted`, from the
/// bucket alone (each run works on a fresh private folder). Each time, the objects must hold what a
/// run that was never killed leaves (every face exactly once), the manifest must vouch for them,
/// no upload may stay open and nothing of the state may be left; until the first upload was
/// completed, last night's object must be as it was. At every fifth point the journal's copy in the
/// bucket is damaged first.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct ObjectStorageCrashSweepTests {
    static func pipeline(_ server: MotoServer, prefix: String) -> String {
        """
        name: sweep-s3
        endpoint: embedded
        simulator: {groups: 3, faces: 30, seed: 11}
        concurrency: 1
        page_size: 10
        rate_limit: {mode: fixed, requests_per_second: 1000, burst: 10}
        output_dir: s3://\(server.bucket)/\(prefix)
        state: s3://\(server.bucket)/\(prefix)/state
        storage: {endpoint: "\(server.endpoint)", path_style: true, proxy: none, checkpoint_interval: 1ms}
        outputs:
          - {format: ndjson, path: faces.ndjson}
          - {format: csv, path: faces.csv.gz}
          - {format: parquet, path: "group={group}/part.parquet"}
        """
    }

    /// What a prefix's night holds, as one line a reference can be compared with: every face of
    /// each output (sorted: pages arrive in another order each run), whether the manifest's files
    /// are the objects, the uploads still open, and what is left of the state.
    static let summaryScript = """
        import gzip, hashlib, io, json, pyarrow.parquet as pq
        for prefix in sys.argv[1:]:
            keys = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + '/').get('Contents', [])]
            body = lambda k: s3.get_object(Bucket=bucket, Key=k)['Body'].read()
            ndjson = sorted(body(prefix + '/faces.ndjson').decode().splitlines()) if prefix + '/faces.ndjson' in keys else []
            csv = sorted(gzip.decompress(body(prefix + '/faces.csv.gz')).decode().splitlines()) if prefix + '/faces.csv.gz' in keys else []
            rows = []
            for k in keys:
                if k.endswith('.parquet'):
                    rows += [json.dumps(r, default=str) for r in pq.read_table(io.BytesIO(body(k))).to_pylist()]
            vouched = 'no manifest'
            if prefix + '/manifest.json' in keys:
                m = json.loads(body(prefix + '/manifest.json'))
                vouched = all(hashlib.sha256(body(f['path'].split('/', 3)[3])).hexdigest() == f['sha256'] for f in m['files'])
            uploads = len(s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix + '/').get('Uploads', []))
            state = sorted(k[len(prefix):] for k in keys if '/.faceexport/' in k or '/state/' in k)
            digest = lambda lines: hashlib.sha256('\\n'.join(lines).encode()).hexdigest()[:16]
            print(prefix, len(ndjson), digest(ndjson), digest(csv), len(rows), digest(sorted(rows)), vouched,
                  m['outcome'] if vouched != 'no manifest' else '-', 'uploads', uploads, 'state', state)
        """

    @Test func everyCrashPointOfANightInTheBucketEndsInTheObjectsOfARunThatNeverCrashed() async throws {
        let server = try await offThePool { try MotoServer(minimumPartSize: 1) }
        defer { server.stop() }
        let client = try server.client()
        let folder = try makeTemporaryDirectory()
        let keys = ObjectStorageRunTests.environment(server, folder: folder)

        /// Runs the night under `prefix` with `more` arguments and environment.
        func night(
            _ prefix: String,
            _ more: [String] = [],
            _ environment: [String: String] = [:]
        ) async throws
            -> CommandLineTests.Outcome
        {
            let file = folder + "/\(prefix).yaml"
            try Self.pipeline(server, prefix: prefix).write(toFile: file, atomically: true, encoding: .utf8)
            var all = keys.merging(environment) { $1 }
            all["FACEEXPORT_TEST_PART_SIZE"] = "2048"
            all["TMPDIR"] = try makeTemporaryDirectory()
            return try await CommandLineTests.faceexport(["run", file] + more, environment: all)
        }

        let reference = try await night("reference", [], ["FACEEXPORT_TEST_STEP_LOG": folder + "/reference.steps"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let steps = try String(contentsOfFile: folder + "/reference.steps", encoding: .utf8).split(separator: "\n")
        let kinds = steps.map { $0.split(separator: " ")[1] }
        #expect(kinds.filter { $0 == "upload-part" }.count >= 15, "parts are sent")
        #expect(kinds.contains("put-object") && kinds.contains("delete-object"), "tails are stored and removed")

        let lastNight = Data("last night\n".utf8)
        var prefixes: [String] = []
        var problems: [String] = []
        var resumedDamaged = 0
        for step in stride(from: 1, through: steps.count, by: CrashSweepTests.long ? 1 : 3) {
            let prefix = "p\(step)"
            prefixes.append(prefix)
            try client.putObject(prefix + "/faces.ndjson", body: lastNight)
            let log = folder + "/\(prefix).steps"
            let crashed = try await night(
                prefix,
                [],
                ["FACEEXPORT_TEST_CRASH_AT": "\(step)", "FACEEXPORT_TEST_STEP_LOG": log]
            )
            guard crashed.status == SIGKILL else {
                problems.append("step \(step): not killed (exit \(crashed.status)): \(crashed.stderr)")
                continue
            }
            let done = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let completed = done.split(separator: "\n").dropLast().contains {
                $0.split(separator: " ")[1] == "complete-upload"
            }
            if !completed, try client.getObject(prefix + "/faces.ndjson") != lastNight {
                problems.append("step \(step): last night's object changed before the commit")
            }
            // The dead run's lock, let expire rather than waited for.
            let lock = prefix + "/state/.faceexport/sweep-s3.lock"
            if var record = try? JSONSerialization.jsonObject(with: client.getObject(lock)) as? [String: Any] {
                record["expires"] = 0
                try client.putObject(lock, body: try JSONSerialization.data(withJSONObject: record))
            }
            // At every fifth point, the journal's copy damaged after its first line: the next
            // attempt continues from the line before the damage, and says where it is.
            let journal = prefix + "/state/.faceexport/sweep-s3.journal"
            var damaged = false
            if (step / 3) % 5 == 2, var bytes = try? [UInt8](client.getObject(journal)),
                let firstLine = bytes.firstIndex(of: 0x0A), bytes.count > firstLine + 2
            {
                bytes[firstLine + 1 + (bytes.count - firstLine - 1) / 2] ^= 0x20
                try client.putObject(journal, body: Data(bytes))
                damaged = true
            }
            let next = try await night(prefix, ["--resume-if-interrupted"])
            if next.status != 0 {
                problems.append("step \(step): the next attempt exited \(next.status): \(next.stderr)")
            }
            // (A commit the dead run had begun is finished from its record: the journal is not read.)
            if damaged && !next.stderr.contains("that is now finished") {
                if next.stderr.contains("s3://\(server.bucket)/\(journal) is damaged at byte") {
                    resumedDamaged += 1
                } else {
                    problems.append("step \(step): the damaged journal was not named: \(next.stderr)")
                }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(5).joined(separator: "\n"))")
        #expect(resumedDamaged >= 3, "resumed from a damaged journal at \(resumedDamaged) points")

        let all = ["reference"] + prefixes
        let summaries = String(
            decoding: try await offThePool { try server.boto3(Self.summaryScript, all) },
            as: UTF8.self
        ).split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        let expected = try #require(summaries.first?.last)
        #expect(expected.hasSuffix(" True complete uploads 0 state []"), "\(expected)")
        let differing = summaries.dropFirst().filter { $0.last != expected }
        #expect(differing.isEmpty, "\(differing.prefix(5).map { $0.joined(separator: ": ") })")
        #expect(summaries.count == prefixes.count + 1)
        print(
            "object storage crash sweep: \(prefixes.count) crash points of \(steps.count) steps; \(differing.count) differ"
        )
    }
}
