import ArgumentParser
import ExportPipeline
import ExportSinks
import FaceSearchSimulation
import Foundation

/// What the Parquet output is measured against: DuckDB converting the same rows from NDJSON, the file
/// pyarrow's own writer makes of them, and the bytes a DuckDB lookup reads with and without bloom filters.
extension BenchCommand {
    /// The independent readers' Python (`.ci/python-readers.txt`), which `.ci/run` and the tests make.
    func readersPython() throws -> String {
        let python = FileManager.default.currentDirectoryPath + "/.build/python-readers/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ValidationError(
                "the Parquet anchors need \(python): run `bash .ci/run` or the tests once, from the repository's top folder"
            )
        }
        return python
    }

    /// Runs `script` in the readers' Python with `arguments` and decodes the JSON object it prints.
    func runReadersScript(_ script: String, _ arguments: [String]) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try self.readersPython())
        process.arguments = ["-c", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw BenchFailure("a Python anchor script exited with \(process.terminationStatus)")
        }
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// DuckDB converting the NDJSON at `path` into Parquet with zstd, as a user does today: its CPU
    /// (every thread of the process, the COPY alone), wall time, peak memory and file size.
    func duckDBConversion(of path: String) throws -> (measured: BenchResult.Measured, fileBytes: Double) {
        let target = path + ".duckdb.parquet"
        defer { try? FileManager.default.removeItem(atPath: target) }
        let figures = try self.runReadersScript(Self.duckDBConversionScript, [path, target])
        let measured = BenchResult.Measured(
            outcome: "complete",
            faces: Int(figures["rows"] ?? 0),
            wallSeconds: figures["wall"] ?? 0,
            cpuSeconds: figures["cpu"] ?? 0,
            peakResidentMB: (figures["peak_kb"] ?? 0) / 1024
        )
        return (measured, figures["bytes"] ?? 0)
    }

    /// The size of the file pyarrow writes from the rows of the Parquet file at `path`, at its defaults
    /// with zstd (dictionaries, statistics, 1 MiB pages, zstd's level 1 as Arrow sets it).
    func pyarrowFileBytes(sameRowsAs path: String) throws -> Double {
        let target = path + ".pyarrow.parquet"
        defer { try? FileManager.default.removeItem(atPath: target) }
        return try self.runReadersScript(Self.pyarrowRewriteScript, [path, target])["bytes"] ?? 0
    }

    /// Bytes DuckDB reads (`pread64`, counted by strace) to find one `face_token` in the file at
    /// `path`, as shares of the file: the largest and smallest over tokens in the first, middle and last
    /// row groups, and for a token that is not there (the first token reversed).
    func lookupShares(in path: String) throws -> [String: Double] {
        try self.runReadersScript(Self.lookupScript, [path])
    }

    static let duckDBConversionScript = #"""
        import duckdb, json, os, resource, sys, time
        source, target = sys.argv[1], sys.argv[2]
        con = duckdb.connect()
        # A query past two seconds draws a progress bar on standard output, where the figures go.
        con.execute("SET enable_progress_bar = false")
        def cpu():
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return usage.ru_utime + usage.ru_stime
        before, started = cpu(), time.monotonic()
        rows = con.execute(
            "COPY (SELECT * FROM read_json('%s')) TO '%s' (FORMAT parquet, COMPRESSION zstd)"
            % (source.replace("'", "''"), target.replace("'", "''"))
        ).fetchone()[0]
        wall, spent = time.monotonic() - started, cpu() - before
        print(json.dumps({"rows": rows, "cpu": spent, "wall": wall, "bytes": os.path.getsize(target),
                          "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
        """#

    static let pyarrowRewriteScript = #"""
        import json, os, sys, pyarrow.parquet as pq
        table = pq.ParquetFile(sys.argv[1]).read()
        pq.write_table(table, sys.argv[2], compression="zstd")
        print(json.dumps({"bytes": os.path.getsize(sys.argv[2])}))
        """#

    static let lookupScript = #"""
        import json, os, re, subprocess, sys, tempfile, pyarrow.parquet as pq
        path = os.path.realpath(sys.argv[1])
        size = os.path.getsize(path)
        parquet = pq.ParquetFile(path)
        groups = parquet.metadata.num_row_groups
        tokens = [parquet.read_row_group(g, columns=["face_token"]).column(0)[0].as_py()
                  for g in sorted({0, groups // 2, groups - 1})]
        query = ("import duckdb, sys\n"
                 "duckdb.sql(\"SELECT * FROM read_parquet('%s') WHERE face_token = '%%s'\" %% sys.argv[1]).arrow()\n"
                 % path.replace("'", "''"))
        def bytes_read(token):
            with tempfile.NamedTemporaryFile() as trace:
                subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=pread64", "-o", trace.name,
                                sys.executable, "-c", query, token.replace("'", "''")], check=True)
                total, pending = 0, {}
                for line in open(trace.name, errors="replace"):
                    pid, _, call = line.partition(" ")
                    call = call.strip()
                    if call.startswith("pread64("):
                        target = call.startswith("pread64(") and re.match(r"pread64\(\d+<([^>]*)>", call)
                        is_file = bool(target) and target.group(1) == path
                        if call.endswith("<unfinished ...>"):
                            pending[pid] = is_file
                            continue
                    elif call.startswith("<... pread64 resumed>"):
                        is_file = pending.pop(pid, False)
                    else:
                        continue
                    result = re.search(r"= (\d+)$", call)
                    if is_file and result:
                        total += int(result.group(1))
                return total
        present = [bytes_read(token) / size for token in tokens]
        print(json.dumps({"row_groups": groups, "file_megabytes": size / 1048576,
                          "largest_share_read": max(present), "smallest_share_read": min(present),
                          # Shaped like a real token, so min/max statistics cannot rule it out.
                          "absent_share_read": bytes_read(tokens[0][::-1]) / size}))
        """#
}

extension BenchCommand {
    /// `parquet-lookup`: --cpu-groups libraries of 1,000 faces into Parquet in row groups of
    /// --lookup-row-group-size, with bloom filters and without; what a DuckDB lookup of one face reads.
    func parquetLookup() async throws -> [BenchResult] {
        let simulator = try self.cpuSimulator()
        defer { simulator.stop() }
        var results: [BenchResult] = []
        for bloomFilters in [true, false] {
            var shares: [String: Double] = [:]
            let measured = try await self.export(
                from: simulator,
                rateLimit: .unlimited,
                pageSize: 1000,
                concurrency: 4,
                format: .parquet,
                file: "faces.parquet",
                configureOutput: {
                    $0.rowGroupBytes = self.lookupRowGroupSize << 20
                    $0.parquetBloomFilters = bloomFilters
                },
                inspect: { path in shares = try self.lookupShares(in: path) }
            )
            var result = BenchResult(
                scenario: bloomFilters ? "lookup-bloom" : "lookup-no-bloom",
                measured: measured,
                statistics: SimulatorStatistics()
            )
            result.figures = shares
            results.append(result)
            FileHandle.standardError.write(Data(result.line.utf8))
        }
        return results
    }
}
