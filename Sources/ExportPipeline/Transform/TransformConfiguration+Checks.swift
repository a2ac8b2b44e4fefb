public import ExportSinks
import Foundation

/// A mistake in a `transform:` section, at the key it concerns.
public struct TransformProblem: Sendable, Hashable, CustomStringConvertible {
    /// The key, e.g. `transform.hash[0]`, `transform.rename.face_token` or `outputs[1].mode`.
    public var key: String
    /// What is wrong and what to do.
    public var message: String

    public var description: String { "\(self.key): \(self.message)" }
}

extension TransformConfiguration {
    /// Every mistake of the section, alone and with these outputs; empty when it can run.
    public func problems(for outputs: [OutputSink.Configuration] = []) -> [TransformProblem] {
        var problems: [TransformProblem] = []
        func report(_ key: String, _ message: String) {
            problems.append(TransformProblem(key: "transform." + key, message: message))
        }
        let available = self.availableColumns.map(\.name)
        let known = "available: \(available.joined(separator: ", "))"

        for (index, constant) in self.constants.enumerated() {
            if !Self.isColumnName(constant.name) {
                report("constants.\(constant.name)", Self.columnNameRule)
            } else if available.firstIndex(of: constant.name) != available.count - self.constants.count + index {
                report(
                    "constants.\(constant.name)",
                    "'\(constant.name)' is already a column; give the constant another name"
                )
            }
        }
        if self.select != nil && !self.drop.isEmpty {
            report("drop", "give either select or drop, not both")
        }
        for (index, name) in (self.select ?? []).enumerated() {
            if !available.contains(name) {
                report("select[\(index)]", "unknown column '\(name)'; \(known)")
            } else if self.select![..<index].contains(name) {
                report("select[\(index)]", "'\(name)' is selected twice")
            }
        }
        if let select = self.select {
            for name in available where !select.contains(name) {
                let declared =
                    self.constants.contains { $0.name == name } || self.metadata.contains { $0.rawValue == name }
                    || name == "add_date"
                if declared {
                    report(
                        "select",
                        "'\(name)' is declared but not selected; add it to select or remove its declaration"
                    )
                }
            }
        }
        for (index, name) in self.drop.enumerated() where !available.contains(name) {
            report("drop[\(index)]", "unknown column '\(name)'; \(known)")
        }
        let output = self.outputSourceNames
        if output.isEmpty { report(self.select == nil ? "drop" : "select", "no column is left to write") }

        var renamed: [String: String] = [:]
        for (source, target) in self.rename.sorted(by: { $0.key < $1.key }) {
            if !available.contains(source) {
                report("rename.\(source)", "unknown column '\(source)'; \(known)")
            } else if !output.contains(source) {
                report("rename.\(source)", "'\(source)' is not written (select/drop leave it out)")
            } else if !Self.isColumnName(target) {
                report("rename.\(source)", Self.columnNameRule)
            }
            renamed[source] = target
        }
        var seen: [String: String] = [:]
        for source in output {
            let name = renamed[source] ?? source
            if let other = seen[name.lowercased()] {
                let culprit = renamed[source] != nil ? source : renamed[other] != nil ? other : nil
                report(
                    culprit.map { "rename.\($0)" } ?? "rename",
                    "'\(source)' and '\(other)' would both be written as '\(name)' (names are compared ignoring case)"
                )
            }
            seen[name.lowercased()] = source
        }

        var changed: [String: String] = [:]
        for (operation, columns) in [
            ("hash", self.hash), ("redact", self.redact), ("truncate", self.truncate.keys.sorted()),
        ] {
            for (index, name) in columns.enumerated() {
                let key = operation == "truncate" ? "truncate.\(name)" : "\(operation)[\(index)]"
                if !available.contains(name) {
                    report(key, "unknown column '\(name)'; \(known)")
                } else if !Self.personalColumns.contains(name) {
                    report(
                        key,
                        "\(operation) applies to \(Self.personalColumns.joined(separator: ", ")), not '\(name)'"
                    )
                } else if !output.contains(name) {
                    report(
                        key,
                        "'\(name)' is not written (select/drop leave it out), so there is nothing to \(operation)"
                    )
                } else if let earlier = changed[name] {
                    report(key, "'\(name)' is already under \(earlier); a column takes one of hash, redact, truncate")
                }
                changed[name] = changed[name] ?? operation
            }
        }
        for (name, length) in self.truncate where length < 1 {
            report("truncate.\(name)", "expected a length of 1 character or more, not \(length)")
        }
        if !self.hash.isEmpty && self.hashKey == nil {
            report(
                "hash_key",
                "missing: hash needs a key, given as hash_key: {env: VARIABLE} or hash_key: {file: PATH}"
            )
        }
        if self.hash.isEmpty && self.hashKey != nil {
            report("hash_key", "set but no column is hashed; list the columns under hash")
        }
        if let zone = self.addDateTimeZone, TimeZone(identifier: zone) == nil {
            report("add_date.time_zone", "'\(zone)' is not a known IANA time zone (e.g. UTC, Asia/Singapore)")
        }
        if let pattern = self.filter.userIDPattern {
            do {
                _ = try Regex(pattern)
            } catch {
                report("filter.user_id", "not a valid regular expression: \(error)")
            }
        }
        if case .absolute(let since) = self.filter.since, case .absolute(let until) = self.filter.until,
            since >= until
        {
            report("filter.add_time.until", "must be later than since")
        }

        let writtenNames = output.map { renamed[$0] ?? $0 }
        for (index, configuration) in outputs.enumerated() where configuration.format == .sqlite {
            let reserved = OutputSink.sqliteBookkeepingColumns + (configuration.changesPath != nil ? ["change"] : [])
            for name in writtenNames where reserved.contains(name.lowercased()) {
                problems.append(
                    TransformProblem(
                        key: "outputs[\(index)]",
                        message: "the SQLite faces table keeps its own '\(name)' column; rename that column"
                    )
                )
            }
            for name in self.redact + self.truncate.keys.sorted()
            where name == "face_token" && output.contains("group_id") {
                problems.append(
                    TransformProblem(
                        key: "transform.\(self.redact.contains(name) ? "redact" : "truncate.face_token")",
                        message:
                            "a SQLite output identifies faces by group_id and face_token; a redacted or truncated token "
                            + "would merge different faces. Hash face_token instead, or drop it"
                    )
                )
            }
            guard configuration.sqliteMode == .merge else { continue }
            for key in ["group_id", "face_token"] where !output.contains(key) {
                problems.append(
                    TransformProblem(
                        key: "outputs[\(index)].mode",
                        message:
                            "merge mode identifies faces by group_id and face_token; the transform leaves out \(key)"
                    )
                )
            }
            if !self.filter.isEmpty {
                problems.append(
                    TransformProblem(
                        key: "outputs[\(index)].mode",
                        message:
                            "merge mode marks faces a complete walk did not write as deleted; with transform.filter it "
                            + "would mark filtered faces deleted. Use mode: replace"
                    )
                )
            }
        }
        return problems
    }

    static let columnNameRule = "a column name is a letter or _, then up to 63 letters, digits or _"

    /// Whether `name` works as a column in every sink and warehouse: `[A-Za-z_][A-Za-z0-9_]{0,63}`.
    static func isColumnName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64 else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || byte == UInt8(ascii: "_")
        }
        return isLetter(first)
            && bytes.allSatisfy { isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}
