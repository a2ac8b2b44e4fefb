import ExportPipeline
import ExportSinks
import Foundation
import Yams

/// What is written where: `outputs`, their path templates and compression.
extension DefinitionReader {
    func template(_ node: Node, _ key: String) throws(PipelineFileError) -> OutputPathTemplate {
        let text = try self.string(node, key)
        guard !text.hasPrefix("/"), !text.split(separator: "/").contains("..") else {
            throw self.fail(node, key, "must be relative to output_dir and stay inside it")
        }
        do {
            return try OutputPathTemplate(text)
        } catch {
            throw self.fail(node, key, error.description)
        }
    }

    /// `compression: isal` or `compression: {engine: isal, level: 2}`, the level checked against the engine's.
    func compression(_ node: Node, _ key: String) throws(PipelineFileError) -> GzipCompression {
        if case .scalar = node {
            let engine: GzipCompression.Engine = try self.choice(node, key)
            return GzipCompression(engine: engine)!
        }
        let entries = try self.mapping(node, key, allowed: ["engine", "level"])
        guard let engineNode = entries["engine"] else {
            throw self.fail(node, "\(key).engine", "missing: one of \(Self.choices(GzipCompression.Engine.self))")
        }
        return try self.gzipCompression(engine: engineNode, level: entries["level"], key)
    }

    /// A gzip engine (ISA-L when `engine` is nil) at `level` (the engine's default when nil).
    private func gzipCompression(
        engine engineNode: Node?,
        level: Node?,
        _ key: String
    ) throws(PipelineFileError)
        -> GzipCompression
    {
        let engine: GzipCompression.Engine =
            try engineNode.map { (node) throws(PipelineFileError) in try self.choice(node, "\(key).engine") }
            ?? GzipCompression.standard.engine
        guard let level else { return GzipCompression(engine: engine)! }
        return GzipCompression(engine: engine, level: try self.integer(level, "\(key).level", in: engine.levels))!
    }

    /// A Parquet output's `compression: zstd` or `compression: {codec: zstd, level: 1}`: `zstd` (levels
    /// 1 to 22), `snappy`, `gzip` (with a gzip `engine` and its levels, as for `.gz` outputs) or `none`.
    func parquetCodec(_ node: Node, _ key: String) throws(PipelineFileError) -> ParquetCodec {
        let codecs = "zstd, snappy, gzip or none"
        let entries: [String: Node]
        let codecNode: Node
        if case .scalar = node {
            (entries, codecNode) = ([:], node)
        } else {
            entries = try self.mapping(node, key, allowed: ["codec", "level", "engine"])
            guard let node = entries["codec"] else { throw self.fail(node, "\(key).codec", "missing: \(codecs)") }
            codecNode = node
        }
        let codecKey = entries.isEmpty ? key : "\(key).codec"
        let codec = try self.string(codecNode, codecKey)
        if codec != "gzip", let engine = entries["engine"] {
            throw self.fail(engine, "\(key).engine", "only gzip has engines")
        }
        switch codec {
        case "zstd":
            let level = try entries["level"].map { (node) throws(PipelineFileError) in
                Int32(try self.integer(node, "\(key).level", in: 1...22))
            }
            return .zstd(level: level ?? 1)
        case "gzip":
            return .gzip(try self.gzipCompression(engine: entries["engine"], level: entries["level"], key))
        case "snappy", "none":
            if let level = entries["level"] { throw self.fail(level, "\(key).level", "\(codec) has no level") }
            return codec == "none" ? .none : .snappy
        case let other:
            throw self.fail(codecNode, codecKey, "'\(other)' is not a Parquet codec; expected \(codecs)")
        }
    }

    /// A size in bytes: a whole number, or one with `KiB`, `MiB` or `GiB`.
    func byteSize(_ node: Node, _ key: String, in range: ClosedRange<Int>) throws(PipelineFileError) -> Int {
        let text = try self.string(node, key).replacingOccurrences(of: " ", with: "")
        let units = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("", 1)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            guard let number = Int(text.dropLast(unit.count)), number > 0,
                number <= range.upperBound / factor, range.contains(number * factor)
            else { break }
            return number * factor
        }
        throw self.fail(
            node,
            key,
            "expected a size from \(range.lowerBound >> 20) MiB to \(range.upperBound >> 20) MiB, e.g. 16MiB"
        )
    }

    func outputs(_ node: Node) throws(PipelineFileError) -> [PipelineDefinition.Output] {
        guard case .sequence(let sequence) = node, !sequence.isEmpty else {
            throw self.fail(node, "outputs", "expected a list of outputs, e.g. '- {format: csv, path: faces.csv.gz}'")
        }
        let formats = OutputSink.Format.allCases.map(\.rawValue)
        var outputs: [PipelineDefinition.Output] = []
        for (index, item) in sequence.enumerated() {
            let key = "outputs[\(index)]"
            let allowed: Set<String> = [
                "format", "path", "compression", "compression_level", "escape_formulas", "mode", "integrity_check",
                "file_mode", "changes", "row_group_size", "bloom_filters",
            ]
            let entries = try self.mapping(item, key, allowed: allowed)
            guard let formatNode = entries["format"] else {
                throw self.fail(item, "\(key).format", "missing: one of \(formats.joined(separator: ", "))")
            }
            guard let pathNode = entries["path"] else {
                throw self.fail(item, "\(key).path", "missing: the file's path")
            }
            let formatText = try self.string(formatNode, "\(key).format")
            guard let format = OutputSink.Format(rawValue: formatText) else {
                throw self.fail(
                    formatNode,
                    "\(key).format",
                    "'\(formatText)' is not a known format; expected one of \(formats.joined(separator: ", "))"
                )
            }
            let path = try self.template(pathNode, "\(key).path")
            guard !outputs.contains(where: { $0.path.text == path.text }) else {
                throw self.fail(pathNode, "\(key).path", "another output already writes '\(path.text)'")
            }
            if format == .sqlite && (path.isPerGroup || path.isPerAccount) {
                throw self.fail(
                    pathNode,
                    "\(key).path",
                    "a SQLite output holds every library in one file: {group} and {account} are not allowed"
                )
            }
            var output = PipelineDefinition.Output(format: format, path: path)
            if let node = entries["compression_level"] {
                guard format == .ndjson || format == .csv else {
                    throw self.fail(node, "\(key).compression_level", "only for ndjson and csv")
                }
                guard entries["compression"] == nil else {
                    throw self.fail(
                        node,
                        "\(key).compression_level",
                        "give compression: {engine, level} or compression_level (zlib's level), not both"
                    )
                }
                // The key of earlier versions keeps its meaning: zlib at that level, byte for byte.
                output.compression = GzipCompression(
                    engine: .zlib,
                    level: try self.integer(node, "\(key).compression_level", in: GzipCompression.Engine.zlib.levels)
                )!
            }
            if let node = entries["compression"], format == .parquet {
                output.parquetCodec = try self.parquetCodec(node, "\(key).compression")
            } else if let node = entries["compression"] {
                guard format != .sqlite else {
                    throw self.fail(node, "\(key).compression", "only for ndjson, csv and parquet")
                }
                guard path.text.hasSuffix(".gz") else {
                    throw self.fail(node, "\(key).compression", "'\(path.text)' is not compressed: only .gz paths are")
                }
                output.compression = try self.compression(node, "\(key).compression")
            }
            if let node = entries["escape_formulas"] {
                guard format == .csv else { throw self.fail(node, "\(key).escape_formulas", "only for csv") }
                output.escapeFormulas = try self.boolean(node, "\(key).escape_formulas")
            }
            if let node = entries["row_group_size"] {
                guard format == .parquet else { throw self.fail(node, "\(key).row_group_size", "only for parquet") }
                output.rowGroupBytes = try self.byteSize(node, "\(key).row_group_size", in: (1 << 20)...(1 << 30))
            }
            if let node = entries["bloom_filters"] {
                guard format == .parquet else { throw self.fail(node, "\(key).bloom_filters", "only for parquet") }
                output.parquetBloomFilters = try self.boolean(node, "\(key).bloom_filters")
            }
            if let node = entries["mode"] {
                guard format == .sqlite else {
                    throw self.fail(
                        node,
                        "\(key).mode",
                        "only for sqlite: merging into the previous night's file is a SQLite feature; "
                            + "a \(format.rawValue) file holds one run"
                    )
                }
                output.sqliteMode = try self.choice(node, "\(key).mode")
            }
            if let node = entries["integrity_check"] {
                guard format == .sqlite else { throw self.fail(node, "\(key).integrity_check", "only for sqlite") }
                output.sqliteCheck = try self.choice(node, "\(key).integrity_check")
            }
            if let node = entries["changes"] {
                guard format == .sqlite, output.sqliteMode == .merge else {
                    throw self.fail(
                        node,
                        "\(key).changes",
                        "only for a sqlite output with mode: merge (it remembers the previous run)"
                    )
                }
                output.changesPath = try self.template(node, "\(key).changes")
                guard !(output.changesPath!.isPerGroup || output.changesPath!.isPerAccount) else {
                    throw self.fail(
                        node,
                        "\(key).changes",
                        "one changes file per run: {group} and {account} are not allowed"
                    )
                }
            }
            if let node = entries["file_mode"] {
                let text = try self.string(node, "\(key).file_mode")
                guard let mode = UInt32(text, radix: 8), mode <= 0o777 else {
                    throw self.fail(node, "\(key).file_mode", "expected octal permissions such as \"0640\"")
                }
                output.fileMode = mode
            }
            outputs.append(output)
        }
        return outputs
    }
}
