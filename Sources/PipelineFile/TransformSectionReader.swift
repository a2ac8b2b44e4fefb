import ExportPipeline
import FaceSearch
import Yams

/// Reads the `transform:` section, then checks it with ``ExportPipeline/TransformConfiguration``'s
/// own rules, pointing each problem at the line of the key it concerns.
extension DefinitionReader {
    func transform(_ node: Node, into definition: inout PipelineDefinition, outputs: Node) throws(PipelineFileError) {
        let allowed: Set<String> = [
            "select", "drop", "rename", "constants", "metadata", "add_time", "add_date", "hash", "hash_key",
            "hash_encoding", "redact", "redact_marker", "truncate", "filter",
        ]
        let entries = try self.mapping(node, "transform", allowed: allowed)
        var lines: [String: Node] = ["transform": node]
        for (name, value) in entries { lines["transform.\(name)"] = value }
        var transform = TransformConfiguration()

        if let node = entries["select"] { transform.select = try self.names(node, "transform.select", &lines) }
        if let node = entries["drop"] { transform.drop = try self.names(node, "transform.drop", &lines) }
        if let node = entries["rename"] {
            for (source, value) in try self.textMapping(node, "transform.rename", &lines) {
                transform.rename[source] = value
            }
        }
        if let node = entries["constants"] {
            transform.constants = try self.textMapping(node, "transform.constants", &lines, allowEmpty: true).map {
                TransformConfiguration.Constant(name: $0.key, value: $0.value)
            }
        }
        if let node = entries["metadata"] {
            for (index, name) in try self.names(node, "transform.metadata", &lines).enumerated() {
                guard let column = TransformConfiguration.MetadataColumn(rawValue: name) else {
                    throw self.fail(
                        lines["transform.metadata[\(index)]"],
                        "transform.metadata[\(index)]",
                        "'\(name)' is not one of \(Self.choices(TransformConfiguration.MetadataColumn.self))"
                    )
                }
                guard !transform.metadata.contains(column) else {
                    throw self.fail(
                        lines["transform.metadata[\(index)]"],
                        "transform.metadata[\(index)]",
                        "listed twice"
                    )
                }
                transform.metadata.append(column)
            }
        }
        if let node = entries["add_time"] { transform.addTime = try self.choice(node, "transform.add_time") }
        if let node = entries["add_date"] {
            let fields = try self.mapping(node, "transform.add_date", allowed: ["time_zone"])
            transform.addDateTimeZone =
                try fields["time_zone"].map { node throws(PipelineFileError) in
                    lines["transform.add_date.time_zone"] = node
                    return try self.string(node, "transform.add_date.time_zone")
                } ?? "UTC"
        }
        if let node = entries["hash"] { transform.hash = try self.names(node, "transform.hash", &lines) }
        if let node = entries["hash_key"] {
            let fields = try self.mapping(node, "transform.hash_key", allowed: ["env", "file", "value"])
            if let literal = fields["value"] {
                throw self.fail(
                    literal,
                    "transform.hash_key.value",
                    "keys never go in a pipeline file; use env (an environment variable) or file"
                )
            }
            switch (fields["env"], fields["file"]) {
            case (let env?, nil): transform.hashKey = .environment(try self.string(env, "transform.hash_key.env"))
            case (nil, let file?): transform.hashKey = .file(try self.string(file, "transform.hash_key.file"))
            default: throw self.fail(node, "transform.hash_key", "give exactly one of env: VARIABLE or file: PATH")
            }
            definition.hashKeyLine = node.mark?.line
        }
        if let node = entries["hash_encoding"] {
            transform.hashEncoding = try self.choice(node, "transform.hash_encoding")
        }
        if let node = entries["redact"] { transform.redact = try self.names(node, "transform.redact", &lines) }
        if let node = entries["redact_marker"] {
            guard case .scalar(let scalar) = node else {
                throw self.fail(node, "transform.redact_marker", "expected text (\"\" for empty)")
            }
            transform.redactMarker = scalar.string
        }
        if let node = entries["truncate"] {
            guard case .mapping(let mapping) = node, !mapping.isEmpty else {
                throw self.fail(node, "transform.truncate", "expected column: length pairs, e.g. {user_data: 64}")
            }
            for (keyNode, value) in mapping {
                let name = try self.string(keyNode, "transform.truncate")
                let key = "transform.truncate.\(name)"
                guard transform.truncate[name] == nil else { throw self.fail(keyNode, key, "the key appears twice") }
                lines[key] = value
                transform.truncate[name] = try self.integer(value, key, in: 1...1_000_000)
            }
        }
        if let node = entries["filter"] { transform.filter = try self.filter(node, &lines) }

        // The section's own rules, then the ones it shares with the outputs (SQLite merge mode).
        var outputNodes: [String: Node] = [:]
        if case .sequence(let items) = outputs {
            for (index, item) in items.enumerated() {
                outputNodes["outputs[\(index)]"] = item
                if case .mapping(let fields) = item, let mode = fields["mode"] {
                    outputNodes["outputs[\(index)].mode"] = mode
                }
            }
        }
        if let problem = transform.problems(for: definition.outputs).first {
            let node = lines[problem.key] ?? outputNodes[problem.key] ?? Self.nearest(problem.key, in: lines) ?? node
            throw self.fail(node, problem.key, problem.message)
        }
        definition.transform = transform
    }

    /// A list of column names; each item's node is remembered under `key[index]`.
    private func names(_ node: Node, _ key: String, _ lines: inout [String: Node]) throws(PipelineFileError) -> [String]
    {
        guard case .sequence(let sequence) = node, !sequence.isEmpty else {
            throw self.fail(node, key, "expected a list of column names, e.g. [user_id, user_data]")
        }
        var names: [String] = []
        for (index, item) in sequence.enumerated() {
            lines["\(key)[\(index)]"] = item
            names.append(try self.string(item, "\(key)[\(index)]"))
        }
        return names
    }

    /// A mapping of text to text, in file order; each value's node is remembered under `key.name`.
    private func textMapping(
        _ node: Node,
        _ key: String,
        _ lines: inout [String: Node],
        allowEmpty: Bool = false
    ) throws(PipelineFileError) -> [(key: String, value: String)] {
        guard case .mapping(let mapping) = node, !mapping.isEmpty else {
            throw self.fail(node, key, "expected name: value pairs, e.g. {face_token: face_id}")
        }
        var pairs: [(key: String, value: String)] = []
        for (keyNode, valueNode) in mapping {
            let name = try self.string(keyNode, key)
            guard !pairs.contains(where: { $0.key == name }) else {
                throw self.fail(keyNode, "\(key).\(name)", "the key appears twice")
            }
            lines["\(key).\(name)"] = keyNode
            guard case .scalar(let scalar) = valueNode, allowEmpty || !scalar.string.isEmpty else {
                throw self.fail(valueNode, "\(key).\(name)", "expected a text value")
            }
            pairs.append((name, scalar.string))
        }
        return pairs
    }

    private func filter(
        _ node: Node,
        _ lines: inout [String: Node]
    ) throws(PipelineFileError) -> TransformConfiguration.Filter {
        let entries = try self.mapping(node, "transform.filter", allowed: ["add_time", "user_id"])
        var filter = TransformConfiguration.Filter()
        if let node = entries["add_time"] {
            let bounds = try self.mapping(node, "transform.filter.add_time", allowed: ["since", "until"])
            guard !bounds.isEmpty else {
                throw self.fail(node, "transform.filter.add_time", "give since, until or both")
            }
            for (name, value) in bounds { lines["transform.filter.add_time.\(name)"] = value }
            filter.since = try bounds["since"].map { node throws(PipelineFileError) in
                try self.timeBound(node, "transform.filter.add_time.since")
            }
            filter.until = try bounds["until"].map { node throws(PipelineFileError) in
                try self.timeBound(node, "transform.filter.add_time.until")
            }
        }
        if let node = entries["user_id"] {
            lines["transform.filter.user_id"] = node
            filter.userIDPattern = try self.string(node, "transform.filter.user_id")
        }
        return filter
    }

    /// `24h`, `90m`, `7d`, `3600s` (before the run's start) or an RFC 3339 instant.
    private func timeBound(_ node: Node, _ key: String) throws(PipelineFileError) -> TransformConfiguration.TimeBound {
        let text = try self.string(node, key)
        if let seconds = Self.duration(text) { return .relative(seconds: seconds) }
        if let milliseconds = Timestamp.parseISO8601(text) { return .absolute(milliseconds: milliseconds) }
        throw self.fail(
            node,
            key,
            "expected a duration before the run's start (24h, 90m, 7d, 3600s; at most 100 years) or an RFC 3339 time (2026-11-01T00:00:00Z)"
        )
    }

    /// The node of the closest enclosing key that has one: `transform.select` for `transform.select[3]`.
    private static func nearest(_ key: String, in lines: [String: Node]) -> Node? {
        var key = Substring(key)
        while let cut = key.lastIndex(where: { $0 == "." || $0 == "[" }) {
            key = key[..<cut]
            if let node = lines[String(key)] { return node }
        }
        return nil
    }
}
