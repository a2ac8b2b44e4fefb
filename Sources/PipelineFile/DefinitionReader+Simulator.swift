import ExportPipeline
import ExportSinks
import Foundation
import Yams

/// The `simulator:` section: the embedded simulator's dataset and faults.
extension DefinitionReader {
    func simulator(_ node: Node) throws(PipelineFileError) -> PipelineDefinition.EmbeddedSimulator {
        let entries = try self.mapping(
            node,
            "simulator",
            allowed: [
                "groups", "faces", "seed", "strict_start_cap", "add_time", "send_next", "faults", "mutation_rate",
            ]
        )
        var simulator = PipelineDefinition.EmbeddedSimulator()
        if let node = entries["groups"] {
            simulator.groups = try self.integer(node, "simulator.groups", in: 0...100_000)
        }
        if let node = entries["faces"] {
            simulator.faces = try self.integer(node, "simulator.faces", in: 0...10_000_000)
        }
        if let node = entries["seed"] {
            simulator.seed = UInt64(try self.integer(node, "simulator.seed", in: 0...Int.max))
        }
        if let node = entries["strict_start_cap"] {
            simulator.strictStartCap = try self.boolean(node, "simulator.strict_start_cap")
        }
        if let node = entries["add_time"] {
            let text = try self.string(node, "simulator.add_time")
            guard let style = PipelineDefinition.EmbeddedSimulator.AddTimeStyle(rawValue: text) else {
                throw self.fail(node, "simulator.add_time", "'\(text)' is not one of number, string, mixed")
            }
            simulator.addTimeStyle = style
        }
        if let node = entries["send_next"] { simulator.sendsNext = try self.boolean(node, "simulator.send_next") }
        if let node = entries["mutation_rate"] {
            guard case .scalar = node, let rate = node.float ?? node.int.map(Double.init), (0...1).contains(rate) else {
                throw self.fail(node, "simulator.mutation_rate", "expected a share between 0 and 1")
            }
            simulator.mutationRate = rate
        }
        if let node = entries["faults"] { (simulator.faults, simulator.clockOffset) = try self.faults(node) }
        return simulator
    }

    func faults(_ node: Node) throws(PipelineFileError) -> (PipelineDefinition.EmbeddedSimulator.Faults, Int64) {
        typealias Faults = PipelineDefinition.EmbeddedSimulator.Faults
        let rates: [(String, WritableKeyPath<Faults, Double>)] = [
            ("error_rate", \.errorRate), ("reset_rate", \.resetRate), ("truncate_rate", \.truncateRate),
            ("endless_rate", \.endlessRate), ("damaged_text_rate", \.damagedTextRate), ("slow_rate", \.slowRate),
            ("expired_signature_rate", \.expiredSignatureRate),
        ]
        let durations: [(String, WritableKeyPath<Faults, Double>)] = [
            ("latency", \.latency), ("latency_jitter", \.latencyJitter), ("slow_delay", \.slowDelay),
        ]
        let counts: Set<String> = [
            "rate_limit", "in_flight_limit", "limit_status", "retry_after", "seed", "clock_offset",
        ]
        let allowed = Set(rates.map(\.0) + durations.map(\.0)).union(counts)
        let entries = try self.mapping(node, "simulator.faults", allowed: allowed)
        var plan = Faults()
        for (name, path) in rates {
            guard let node = entries[name] else { continue }
            guard case .scalar = node, let value = node.float ?? node.int.map(Double.init), (0...1).contains(value)
            else {
                throw self.fail(node, "simulator.faults.\(name)", "expected a share between 0 and 1")
            }
            plan[keyPath: path] = value
        }
        for (name, path) in durations {
            guard let node = entries[name] else { continue }
            guard case .scalar = node, let value = node.float ?? node.int.map(Double.init), value >= 0 else {
                throw self.fail(node, "simulator.faults.\(name)", "expected a number of seconds, 0 or more")
            }
            plan[keyPath: path] = value
        }
        if let node = entries["rate_limit"] {
            plan.requestsPerSecondLimit = try self.integer(node, "simulator.faults.rate_limit", in: 1...1_000_000)
        }
        if let node = entries["in_flight_limit"] {
            plan.inFlightLimit = try self.integer(node, "simulator.faults.in_flight_limit", in: 1...1_000_000)
        }
        if let node = entries["limit_status"] {
            plan.limitStatus = try self.integer(node, "simulator.faults.limit_status", in: 403...429)
            guard [403, 429].contains(plan.limitStatus) else {
                throw self.fail(node, "simulator.faults.limit_status", "expected 403 or 429")
            }
        }
        if let node = entries["retry_after"] {
            plan.retryAfter = try self.integer(node, "simulator.faults.retry_after", in: 0...86_400)
        }
        if let node = entries["seed"] {
            plan.seed = UInt64(try self.integer(node, "simulator.faults.seed", in: 0...Int.max))
        }
        var clockOffset: Int64 = 0
        if let node = entries["clock_offset"] {
            clockOffset = Int64(try self.integer(node, "simulator.faults.clock_offset", in: -86_400...86_400))
        }
        return (plan, clockOffset)
    }
}
