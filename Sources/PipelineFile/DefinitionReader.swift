import ExportPipeline
import ExportSinks
import Foundation
import Yams

/// Walks the YAML tree with the key path at hand, so every error can say where it is.
struct DefinitionReader {
    let file: String

    func fail(_ node: Node?, _ key: String?, _ message: String) -> PipelineFileError {
        PipelineFileError(file: self.file, line: node?.mark?.line, key: key, message: message)
    }

    /// The entries of a mapping, with unknown and repeated keys rejected.
    func mapping(_ node: Node, _ key: String?, allowed: Set<String>) throws(PipelineFileError) -> [String: Node] {
        guard case .mapping(let mapping) = node else {
            throw self.fail(node, key, "expected a mapping of keys (\(allowed.sorted().joined(separator: ", ")))")
        }
        var entries: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else { throw self.fail(keyNode, key, "keys must be text") }
            let path = key.map { "\($0).\(name)" } ?? name
            guard allowed.contains(name) else {
                throw self.fail(
                    keyNode,
                    path,
                    "unknown key; expected one of \(allowed.sorted().joined(separator: ", "))"
                )
            }
            guard entries[name] == nil else { throw self.fail(keyNode, path, "the key appears twice") }
            entries[name] = value
        }
        return entries
    }

    func string(_ node: Node, _ key: String) throws(PipelineFileError) -> String {
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            throw self.fail(node, key, "expected a non-empty text value")
        }
        return scalar.string
    }

    /// One of an enumeration's values, by its raw text; the error lists them all.
    func choice<Choice: RawRepresentable & CaseIterable>(
        _ node: Node,
        _ key: String
    ) throws(PipelineFileError) -> Choice where Choice.RawValue == String {
        let text = try self.string(node, key)
        guard let value = Choice(rawValue: text) else {
            throw self.fail(node, key, "'\(text)' is not one of \(Self.choices(Choice.self))")
        }
        return value
    }

    static func choices<Choice: RawRepresentable & CaseIterable>(_: Choice.Type) -> String
    where Choice.RawValue == String {
        Choice.allCases.map(\.rawValue).joined(separator: ", ")
    }

    func integer(_ node: Node, _ key: String, in range: ClosedRange<Int>) throws(PipelineFileError) -> Int {
        guard case .scalar = node, let value = node.int else { throw self.fail(node, key, "expected a whole number") }
        guard range.contains(value) else {
            throw self.fail(node, key, "\(value) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A positive number of seconds, or a duration with its unit: `250ms`, `90s`, `10m`, `4h`, `1d`.
    func seconds(_ node: Node, _ key: String) throws(PipelineFileError) -> Double {
        if case .scalar = node, node.float == nil, node.int == nil, let text = node.string,
            let seconds = Self.duration(text)
        {
            return seconds
        }
        guard case .scalar = node, let value = node.float ?? node.int.map(Double.init), value > 0,
            value <= Self.longestDuration
        else {
            throw self.fail(
                node,
                key,
                "expected a positive number of seconds, or a duration such as 90s, 10m or 4h, of at most 100 years"
            )
        }
        return value
    }

    /// The longest time a key takes, 100 years in seconds: longer ones are typing mistakes, and
    /// would overflow the clocks and timers they are given to.
    static let longestDuration: Double = 100 * 365.25 * 86_400

    /// Seconds in a duration with its unit (`ms`, `s`, `m`, `h`, `d`): `90m` is 5,400; nil for
    /// anything else, zero and negative amounts and more than 100 years included.
    static func duration(_ text: String) -> Double? {
        let units: [(suffix: String, seconds: Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let amount = Double(text.dropLast(unit.suffix.count)), amount > 0,
                amount * unit.seconds <= Self.longestDuration
            else { return nil }
            return amount * unit.seconds
        }
        return nil
    }

    func positiveNumber(_ node: Node, _ key: String, of unit: String) throws(PipelineFileError) -> Double {
        guard case .scalar = node, let value = node.float ?? node.int.map(Double.init), value > 0, value.isFinite else {
            throw self.fail(node, key, "expected a positive number of \(unit)")
        }
        return value
    }

    func boolean(_ node: Node, _ key: String) throws(PipelineFileError) -> Bool {
        guard case .scalar = node, let value = node.bool else { throw self.fail(node, key, "expected true or false") }
        return value
    }
}
