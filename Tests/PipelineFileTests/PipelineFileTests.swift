import ExportPipeline
import ExportSinks
import Foundation
import PipelineFile
import Testing

struct PipelineFileTests {
    private func error(_ yaml: String) -> PipelineFileError? {
        do {
            _ = try PipelineFileLoader.parse(yaml, file: "p.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func theShippedDemoPipelineIsValid() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../pipelines/demo.yaml"
        ).path
        let definition = try PipelineFileLoader.load(path: path)
        #expect(definition.name == "demo")
        guard case .embedded = definition.endpoint else {
            Issue.record("the demo must use the embedded simulator")
            return
        }
        #expect(definition.outputs.map(\.format) == [.ndjson])
    }

    @Test func everyShippedPipelineIsValid() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../pipelines"
        ).path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for file in files {
            let definition = try PipelineFileLoader.load(path: folder + "/" + file)
            #expect(!definition.outputs.isEmpty, "\(file)")
        }
        let nightly = try PipelineFileLoader.load(path: folder + "/nightly.yaml")
        #expect(nightly.outputs.map(\.format) == [.csv, .ndjson, .sqlite])
        #expect(nightly.outputs[2].sqliteMode == .merge)
        #expect(nightly.manifest.text == "dt={date}/manifest.json")
    }

    @Test func theHTTPStackIsChosenByName() throws {
        let head = "name: x\nendpoint: embedded\noutputs: [{format: ndjson, path: f}]\n"
        #expect(try PipelineFileLoader.parse(head, file: "p.yaml").httpClient == .curl)
        #expect(try PipelineFileLoader.parse(head + "http_client: curl\n", file: "p.yaml").httpClient == .curl)
        // The stacks measured against libcurl and removed are named as such, not silently ignored.
        let error = try #require(self.error(head + "http_client: asynchttpclient\n"))
        #expect(error.line == 4 && error.key == "http_client", "\(error)")
        #expect(error.description.contains("is not one of curl"), "\(error)")
    }

    /// Every time key takes seconds as a number or a duration with its unit, as the transform's windows do.
    @Test func timeKeysTakeSecondsOrADurationWithItsUnit() throws {
        let head = "name: x\nendpoint: embedded\noutputs: [{format: ndjson, path: f}]\n"
        let definition = try PipelineFileLoader.parse(
            head
                + "outage_tolerance: 20s\ndeadline: 4h\nrequest_timeout: 12.5\nretry: {base_delay: 250ms, max_delay: 1m}\n",
            file: "p.yaml"
        )
        #expect(definition.outageTolerance == 20)
        #expect(definition.deadline == 14_400)
        #expect(definition.requestTimeout == 12.5)
        #expect(definition.retry.baseDelay == 0.25 && definition.retry.maxDelay == 60)
        #expect(try PipelineFileLoader.parse(head + "deadline: 1d\n", file: "p.yaml").deadline == 86_400)
        #expect(try PipelineFileLoader.parse(head + "deadline: 36525d\n", file: "p.yaml").deadline == 36525 * 86_400)
        // More than 100 years is a typing mistake (1e300 seconds once stopped the process in libcurl's timeout).
        let mistakes = [
            ("outage_tolerance", "0s"), ("outage_tolerance", "20 minutes"), ("deadline", "-4h"),
            ("request_timeout", "1e300"), ("request_timeout", "99999999999999999999d"), ("deadline", "36526d"),
        ]
        for (line, value) in mistakes {
            let error = try #require(self.error(head + "\(line): \(value)\n"), "\(value)")
            #expect(error.line == 4 && error.key == line, "\(error)")
            #expect(error.description.contains("a duration such as 90s, 10m or 4h"), "\(error)")
        }
    }

    @Test func outputOptionsAreCheckedAgainstTheirFormat() throws {
        let head = "name: x\nendpoint: embedded\noutputs:\n"
        let cases: [(String, Int, String)] = [
            (head + "  - {format: ndjson, path: f, mode: merge}\n", 4, "outputs[0].mode"),
            (head + "  - {format: sqlite, path: f, escape_formulas: true}\n", 4, "outputs[0].escape_formulas"),
            (head + "  - {format: sqlite, path: \"{group}.db\"}\n", 4, "outputs[0].path"),
            (head + "  - {format: csv, path: \"{day}/f.csv\"}\n", 4, "outputs[0].path"),
            (head + "  - {format: csv, path: f.csv, file_mode: rw}\n", 4, "outputs[0].file_mode"),
            (head + "  - {format: csv, path: f.csv, integrity_check: full}\n", 4, "outputs[0].integrity_check"),
            (head + "  - {format: sqlite, path: f.db, integrity_check: thorough}\n", 4, "outputs[0].integrity_check"),
        ]
        for (yaml, line, key) in cases {
            let error = try #require(self.error(yaml), "expected an error for \(yaml)")
            #expect(error.line == line, "\(error)")
            #expect(error.key == key, "\(error)")
        }
    }

    @Test func fullFileIsRead() throws {
        let definition = try PipelineFileLoader.parse(
            """
            name: nightly
            endpoint: https://api-sgp.yljz.com
            credentials:
              api_key_env: MY_KEY
              api_secret_file: /run/secrets/facesearch
            groups: [a, b]
            concurrency: 8
            page_size: 500
            request_timeout: 12.5
            retry: {max_attempts: 3, base_delay: 1, max_delay: 4}
            output_dir: /data/faces
            outputs:
              - format: ndjson
                path: dt=2026-11-26/faces.ndjson.gz
                compression_level: 1
            """,
            file: "p.yaml"
        )
        #expect(definition.endpoint == .remote("https://api-sgp.yljz.com"))
        #expect(definition.credentials.apiKeyEnvironment == "MY_KEY")
        #expect(definition.credentials.apiSecretFile == "/run/secrets/facesearch")
        #expect(definition.groups == .list(["a", "b"]))
        #expect(definition.concurrency == 8)
        #expect(definition.pageSize == 500)
        #expect(definition.requestTimeout == 12.5)
        #expect(definition.retry.maxAttempts == 3)
        #expect(definition.outputDirectory == "/data/faces")
        #expect(definition.outputs.first?.compression == GzipCompression(engine: .zlib, level: 1))
    }

    @Test func gzipCompressionIsChosenPerOutputWithLevelsCheckedPerEngine() throws {
        func outputs(_ items: String) throws -> [PipelineDefinition.Output] {
            try PipelineFileLoader.parse("name: x\nendpoint: embedded\noutputs:\n" + items, file: "p.yaml").outputs
        }
        let chosen = try outputs(
            """
              - {format: ndjson, path: a.ndjson.gz}
              - {format: ndjson, path: b.ndjson.gz, compression: libdeflate}
              - {format: csv, path: c.csv.gz, compression: {engine: isal, level: 0}}
              - {format: csv, path: d.csv.gz, compression: {engine: libdeflate, level: 12}}
              - {format: csv, path: e.csv.gz, compression_level: 9}

            """
        )
        #expect(
            chosen.map(\.compression) == [
                .standard, GzipCompression(engine: .libdeflate, level: 6)!, GzipCompression(engine: .isal, level: 0)!,
                GzipCompression(engine: .libdeflate, level: 12)!, GzipCompression(engine: .zlib, level: 9)!,
            ]
        )
        #expect(GzipCompression.standard == GzipCompression(engine: .isal, level: 2))
        let refused: [(String, String, String)] = [
            ("{engine: isal, level: 4}", "outputs[0].compression.level", "4 is out of range; expected 0 to 3"),
            ("{engine: zlib, level: 10}", "outputs[0].compression.level", "expected 1 to 9"),
            ("{engine: brotli}", "outputs[0].compression.engine", "'brotli' is not one of isal, libdeflate, zlib"),
            ("{level: 3}", "outputs[0].compression.engine", "missing"),
            ("{engine: isal, speed: 3}", "outputs[0].compression.speed", "unknown key"),
        ]
        for (value, key, message) in refused {
            let error = try #require(
                self.error(
                    "name: x\nendpoint: embedded\noutputs:\n  - format: csv\n    path: f.csv.gz\n    compression: \(value)\n"
                )
            )
            #expect(error.line == 6 && error.key == key && error.message.contains(message), "\(error)")
        }
        let both = try #require(
            self.error(
                "name: x\nendpoint: embedded\noutputs:\n  - {format: csv, path: f.csv.gz, compression: zlib, compression_level: 6}\n"
            )
        )
        #expect(both.key == "outputs[0].compression_level" && both.message.contains("not both"), "\(both)")
        let plain = try #require(
            self.error("name: x\nendpoint: embedded\noutputs:\n  - {format: csv, path: f.csv, compression: isal}\n")
        )
        #expect(plain.key == "outputs[0].compression" && plain.message.contains("only .gz paths are"), "\(plain)")
        let sqlite = try #require(
            self.error("name: x\nendpoint: embedded\noutputs:\n  - {format: sqlite, path: f.db, compression: isal}\n")
        )
        #expect(sqlite.key == "outputs[0].compression" && sqlite.message.contains("only for ndjson, csv and parquet"))
    }

    @Test func aParquetOutputTakesACodecALevelAndARowGroupSize() throws {
        let header = "name: x\nendpoint: embedded\noutputs:\n"
        let definition = try PipelineFileLoader.parse(
            header
                + "  - {format: parquet, path: f.parquet, compression: {codec: zstd, level: 9}, row_group_size: 8MiB}\n"
                + "  - {format: parquet, path: g.parquet, compression: none}\n  - {format: parquet, path: h.parquet}\n"
                + "  - {format: parquet, path: i.parquet, compression: snappy}\n"
                + "  - {format: parquet, path: j.parquet, compression: {codec: gzip}}\n"
                + "  - {format: parquet, path: k.parquet, compression: {codec: gzip, engine: zlib, level: 9}}\n"
                + "  - {format: parquet, path: l.parquet, bloom_filters: false}\n",
            file: "p.yaml"
        )
        let codecs: [ParquetCodec] = [
            .zstd(level: 9), .none, .zstd(level: 1), .snappy, .gzip(.standard),
            .gzip(GzipCompression(engine: .zlib, level: 9)!), .zstd(level: 1),
        ]
        #expect(definition.outputs.map(\.parquetCodec) == codecs)
        #expect(definition.outputs.map(\.rowGroupBytes) == [8 << 20] + [Int](repeating: 12 << 20, count: 6))
        #expect(definition.outputs.map(\.parquetBloomFilters) == [true, true, true, true, true, true, false])
        let cases: [(String, String, String)] = [
            ("compression: {codec: lz4}", "outputs[0].compression.codec", "expected zstd, snappy, gzip or none"),
            ("compression: lz4", "outputs[0].compression", "expected zstd, snappy, gzip or none"),
            ("compression: {codec: zstd, level: 23}", "outputs[0].compression.level", "out of range"),
            ("compression: {codec: none, level: 3}", "outputs[0].compression.level", "none has no level"),
            ("compression: {codec: snappy, level: 3}", "outputs[0].compression.level", "snappy has no level"),
            ("compression: {codec: gzip, engine: isal, level: 9}", "outputs[0].compression.level", "out of range"),
            ("compression: {codec: zstd, engine: zlib}", "outputs[0].compression.engine", "only gzip has engines"),
            ("compression: {codec: gzip, engine: brotli}", "outputs[0].compression.engine", "brotli"),
            ("row_group_size: 100KiB", "outputs[0].row_group_size", "from 1 MiB to 1024 MiB"),
            ("mode: merge", "outputs[0].mode", "a SQLite feature"),
            ("compression_level: 6", "outputs[0].compression_level", "only for ndjson and csv"),
        ]
        for (keys, key, message) in cases {
            let error = try #require(
                self.error(header + "  - {format: parquet, path: f.parquet, \(keys)}\n"),
                "\(keys)"
            )
            #expect(error.key == key && error.message.contains(message), "\(keys): \(error)")
        }
        let csv = try #require(self.error(header + "  - {format: csv, path: f.csv, row_group_size: 8MiB}\n"))
        #expect(csv.key == "outputs[0].row_group_size" && csv.message.contains("only for parquet"))
        let ndjson = try #require(self.error(header + "  - {format: ndjson, path: f.ndjson, bloom_filters: false}\n"))
        #expect(ndjson.key == "outputs[0].bloom_filters" && ndjson.message.contains("only for parquet"))
        let word = try #require(self.error(header + "  - {format: parquet, path: f.parquet, bloom_filters: maybe}\n"))
        #expect(word.key == "outputs[0].bloom_filters", "\(word)")
    }

    @Test func outputsInObjectStorageTakeAStorageSectionAndAStateFolder() throws {
        let header = "name: x\nendpoint: embedded\noutputs: [{format: ndjson, path: f.ndjson.gz}]\n"
        let definition = try PipelineFileLoader.parse(
            header + "output_dir: s3://nightly-exports/faces/\nstate: /var/lib/faceexport\n"
                + "storage: {endpoint: 'https://minio.internal:9000', region: eu-central-1, path_style: true, "
                + "part_size: 32MiB, parts_in_flight: 4, checkpoint_interval: 45s, proxy: none, tls: {ca_file: /etc/ca.pem}}\n",
            file: "p.yaml"
        )
        #expect(definition.outputDirectory == "s3://nightly-exports/faces/")
        #expect(definition.stateDirectory == "/var/lib/faceexport")
        #expect(definition.storage.endpoint == "https://minio.internal:9000")
        #expect(definition.storage.region == "eu-central-1" && definition.storage.pathStyle)
        #expect(definition.storage.partSize == 32 << 20 && definition.storage.proxy == .none)
        #expect(definition.storage.partsInFlight == 4 && definition.storage.checkpointInterval == 45)
        #expect(definition.storage.caFile == "/etc/ca.pem" && !definition.storage.caOnly)
        let local = try PipelineFileLoader.parse(header + "output_dir: s3://b-1.x\nstate: st\n", file: "p.yaml")
        #expect(local.storage == PipelineDefinition.Storage(), "AWS's endpoint for the region, by default")
        #expect(local.storage.partsInFlight == 2)
        let inBucket = try PipelineFileLoader.parse(
            header + "output_dir: s3://b-1.x/out\nstate: s3://b-1.x/state\n",
            file: "p.yaml"
        )
        #expect(inBucket.stateDirectory == "s3://b-1.x/state")

        let cases: [(String, String, String)] = [
            ("output_dir: s3://nightly\n", "state", "a local folder (state: /var/lib/faceexport) or a prefix"),
            ("output_dir: s3://nightly\nstate: s3://other/state\n", "state", "in the bucket of output_dir"),
            ("output_dir: out\nstate: s3://nightly/state\n", "state", "in the bucket of output_dir"),
            ("output_dir: s3://nightly\nstate: s3://nightly/a//b\n", "state", "empty folder name"),
            ("output_dir: s3://Nightly_Exports/x\nstate: s\n", "output_dir", "is not a bucket name"),
            ("output_dir: s3://ab\nstate: s\n", "output_dir", "is not a bucket name"),
            ("output_dir: s3://nightly/a//b\nstate: s\n", "output_dir", "empty folder name"),
            ("storage: {region: x}\n", "storage", "only for an output_dir in object storage"),
            (
                "output_dir: s3://nightly\nstate: s\nstorage: {endpoint: 'http://minio.internal:9000'}\n",
                "storage.endpoint", "plain http is refused"
            ),
            (
                "output_dir: s3://nightly\nstate: s\nstorage: {endpoint: 'https://k:s@minio.internal'}\n",
                "storage.endpoint", "credentials never go in a pipeline file"
            ),
            ("output_dir: s3://nightly\nstate: s\nstorage: {part_size: 1MiB}\n", "storage.part_size", "5 MiB"),
            (
                "output_dir: s3://nightly\nstate: s\nstorage: {parts_in_flight: 17}\n", "storage.parts_in_flight",
                "17 is out of range; expected 1 to 16"
            ),
            ("output_dir: s3://nightly\nstate: s\nstorage: {access_key: x}\n", "storage.access_key", "unknown key"),
            ("output_dir: s3://nightly\nstate: s\nstorage: {tls: {ca_only: true}}\n", "storage.tls.ca_only", "ca_file"),
        ]
        for (yaml, key, message) in cases {
            let error = try #require(self.error(header + yaml), "\(yaml)")
            #expect(error.key == key && error.message.contains(message), "\(yaml): \(error)")
        }
        let loopback = try PipelineFileLoader.parse(
            header + "output_dir: s3://nightly\nstate: s\nstorage: {endpoint: 'http://127.0.0.1:9000'}\n",
            file: "p.yaml"
        )
        #expect(loopback.storage.endpoint == "http://127.0.0.1:9000", "plain http to this machine")
    }

    @Test func metricsArePushedToAPushgatewayTheSectionNames() throws {
        let header = "name: x\nendpoint: embedded\noutputs: [{format: ndjson, path: f.ndjson}]\n"
        let definition = try PipelineFileLoader.parse(
            header + "metrics:\n  file: /var/lib/node_exporter/f.prom\n  pushgateway: https://pgw.monitoring:9091\n"
                + "  push_interval: 1m\n  job: nightly\n  proxy: none\n  tls: {ca_file: /etc/ca.pem, ca_only: true}\n",
            file: "p.yaml"
        )
        #expect(definition.metricsFile == "/var/lib/node_exporter/f.prom")
        var expected = PipelineDefinition.MetricsPush(url: "https://pgw.monitoring:9091")
        (expected.job, expected.interval, expected.proxy) = ("nightly", 60, .none)
        (expected.caFile, expected.caOnly) = ("/etc/ca.pem", true)
        #expect(definition.metricsPush == expected)
        let defaults = try PipelineFileLoader.parse(header + "metrics: {pushgateway: 'http://[::1]:9091'}\n", file: "p")
        #expect(defaults.metricsPush == PipelineDefinition.MetricsPush(url: "http://[::1]:9091"))
        #expect(defaults.metricsPush?.interval == 30 && defaults.metricsPush?.job == "faceexport")

        let cases: [(String, String, String)] = [
            ("metrics: {pushgateway: 'http://pgw.monitoring:9091'}\n", "metrics.pushgateway", "plain http is refused"),
            ("metrics: {pushgateway: 'https://u:p@pgw'}\n", "metrics.pushgateway", "credentials never go"),
            ("metrics: {pushgateway: pgw}\n", "metrics.pushgateway", "expected a URL"),
            ("metrics: {pushgateway: 'https://pgw', push_interval: 0.5}\n", "metrics.push_interval", "1s or more"),
            ("metrics: {pushgateway: 'https://pgw', job: ''}\n", "metrics.job", "empty"),
            ("metrics: {job: nightly}\n", "metrics.job", "only with metrics.pushgateway"),
            ("metrics: {pushgatway: 'https://pgw'}\n", "metrics.pushgatway", "unknown key"),
            ("metrics_file: a.prom\nmetrics: {file: b.prom}\n", "metrics.file", "either metrics_file or metrics.file"),
        ]
        for (yaml, key, message) in cases {
            let error = try #require(self.error(header + yaml), "\(yaml)")
            #expect(error.key == key && error.message.contains(message), "\(yaml): \(error)")
            #expect(error.line != nil, "\(yaml): \(error)")
        }
    }

    @Test func errorsNameTheLineAndTheKey() throws {
        let base = "name: x\nendpoint: embedded\noutputs:\n  - format: ndjson\n    path: f.ndjson\n"
        let cases: [(String, Int?, String)] = [
            (base + "concurency: 3\n", 6, "concurency"),
            (base + "page_size: 5000\n", 6, "page_size"),
            (base + "concurrency: many\n", 6, "concurrency"),
            ("name: x\nendpoint: embedded\noutputs:\n  - format: xml\n    path: f.xml\n", 4, "outputs[0].format"),
            (
                "name: x\nendpoint: embedded\noutputs:\n  - format: ndjson\n    path: ../f.ndjson\n", 5,
                "outputs[0].path"
            ),
            ("name: x\nendpoint: embedded\noutputs:\n  - format: ndjson\n", 4, "outputs[0].path"),
            (base + "credentials:\n  api_secret: hunter2\n", 7, "credentials.api_secret"),
            (base + "retry:\n  max_attempts: 0\n", 7, "retry.max_attempts"),
            ("name: x\nendpoint: https://e.example\nsimulator: {groups: 3}\noutputs: []\n", 3, "simulator"),
            ("name: x\noutputs:\n  - {format: ndjson, path: f}\n", 1, "endpoint"),
        ]
        for (yaml, line, key) in cases {
            let error = try #require(self.error(yaml), "expected an error for \(yaml)")
            #expect(error.line == line, "\(error)")
            #expect(error.key == key, "\(error)")
        }
    }

    /// Each walker holds a thread of libdispatch's pool (255 at most) for the whole run: at 252 and
    /// more the run hung. The file says so before anything starts.
    @Test func concurrencyIsAtMostWhatTheThreadPoolServes() throws {
        let base = "name: x\nendpoint: embedded\noutputs:\n  - {format: ndjson, path: f}\n"
        for value in [129, 256] {
            let error = try #require(self.error(base + "concurrency: \(value)\n"))
            #expect(error.line == 5 && error.key == "concurrency", "\(error)")
            #expect(error.message.contains("expected 1 to 128"), "\(error)")
        }
        #expect(try PipelineFileLoader.parse(base + "concurrency: 128\n", file: "p.yaml").concurrency == 128)
    }

    @Test func aLiteralSecretIsRefusedWithoutEchoingIt() throws {
        let error = try #require(
            self.error(
                "name: x\nendpoint: embedded\ncredentials:\n  api_secret: hunter2\noutputs:\n  - {format: ndjson, path: f}\n"
            )
        )
        #expect(!error.description.contains("hunter2"))
        #expect(error.description.contains("api_secret_env"))
    }

    @Test func brokenYAMLNamesItsLine() throws {
        let error = try #require(self.error("name: x\nendpoint: [unclosed\noutputs: 3\n"))
        #expect(error.line != nil)
        #expect(error.description.hasPrefix("p.yaml:"))
    }

    @Test func groupsFileSkipsCommentsAndBlankLines() throws {
        let ids = try GroupsFile.parse("# nightly libraries\n\nlib-a\n  lib-b   # the second\nlib-a\n", file: "g.txt")
        #expect(ids == ["lib-a", "lib-b"])
        #expect(throws: PipelineFileError.self) { try GroupsFile.parse("# nothing\n", file: "g.txt") }
        #expect(throws: PipelineFileError.self) { try GroupsFile.parse("a b\n", file: "g.txt") }
    }
}
