import ExportPipeline
import ExportSinks
import Foundation
import Yams

/// Reads pipeline files (YAML) into ``PipelineDefinition``, rejecting unknown keys and bad values
/// with the line and key they stand at.
public enum PipelineFileLoader {
    /// Reads and checks the file at `path`.
    public static func load(path: String) throws(PipelineFileError) -> PipelineDefinition {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineFileError(file: path, line: nil, key: nil, message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PipelineFileError(file: path, line: nil, key: nil, message: "the file is not UTF-8 text")
        }
        return try self.parse(text, file: path)
    }

    /// Checks pipeline text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(PipelineFileError) -> PipelineDefinition {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw PipelineFileError(file: file, line: nil, key: nil, message: "the file is empty")
            }
            root = node
        } catch let error as PipelineFileError {
            throw error
        } catch let error as YamlError {
            throw PipelineFileError(
                file: file,
                line: Self.line(of: error),
                key: nil,
                message: "not valid YAML: \(Self.problem(of: error))"
            )
        } catch {
            throw PipelineFileError(file: file, line: nil, key: nil, message: "not valid YAML: \(error)")
        }
        return try DefinitionReader(file: file).read(root)
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(error)"
        }
    }
}

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

    func read(_ root: Node) throws(PipelineFileError) -> PipelineDefinition {
        let keys: Set<String> = [
            "name", "endpoint", "simulator", "credentials", "groups", "groups_file", "concurrency", "page_size",
            "request_timeout", "retry", "rate_limit", "deadline", "output_dir", "outputs", "manifest", "on_incomplete",
            "on_changed", "on_unverified", "on_invalid_text", "outage_tolerance", "accounts", "proxy", "tls",
            "metrics_file", "transform",
            "http_client",
        ]
        let entries = try self.mapping(root, nil, allowed: keys)
        guard let nameNode = entries["name"] else { throw self.fail(root, "name", "missing: give the pipeline a name") }
        guard let endpointNode = entries["endpoint"] else {
            throw self.fail(root, "endpoint", "missing: the service root (e.g. https://api-sgp.yljz.com) or 'embedded'")
        }
        let endpointText = try self.string(endpointNode, "endpoint")
        let endpoint: PipelineDefinition.Endpoint
        if endpointText == "embedded" {
            endpoint = .embedded(
                try entries["simulator"].map { node throws(PipelineFileError) in try self.simulator(node) } ?? .init()
            )
        } else {
            if let simulator = entries["simulator"] {
                throw self.fail(simulator, "simulator", "only used with 'endpoint: embedded'")
            }
            endpoint = .remote(endpointText)
        }
        var definition = PipelineDefinition(name: try self.string(nameNode, "name"), endpoint: endpoint)
        if let node = entries["credentials"] { definition.credentials = try self.credentials(node) }
        if entries["groups"] != nil, let fileNode = entries["groups_file"] {
            throw self.fail(fileNode, "groups_file", "give either groups or groups_file, not both")
        }
        if let node = entries["groups"] { definition.groups = try self.groups(node) }
        if let node = entries["groups_file"] { definition.groups = .file(try self.string(node, "groups_file")) }
        if let node = entries["concurrency"] {
            definition.concurrency = try self.integer(
                node,
                "concurrency",
                in: 1...ExportConfiguration.maximumConcurrency
            )
        }
        if let node = entries["page_size"] { definition.pageSize = try self.integer(node, "page_size", in: 1...1000) }
        if let node = entries["request_timeout"] {
            definition.requestTimeout = try self.seconds(node, "request_timeout")
        }
        if let node = entries["http_client"] { definition.httpClient = try self.choice(node, "http_client") }
        if let node = entries["proxy"] { definition.proxy = try self.proxy(node) }
        if let node = entries["tls"] {
            let tls = try self.mapping(node, "tls", allowed: ["ca_file", "ca_only"])
            if let file = tls["ca_file"] { definition.caFile = try self.string(file, "tls.ca_file") }
            if let only = tls["ca_only"] { definition.caOnly = try self.boolean(only, "tls.ca_only") }
            if definition.caOnly && definition.caFile == nil {
                throw self.fail(
                    node,
                    "tls.ca_only",
                    "needs tls.ca_file: the certificates to trust instead of the system's"
                )
            }
        }
        if let node = entries["retry"] { (definition.retry, definition.retryBudget) = try self.retry(node) }
        if let node = entries["rate_limit"] { definition.rateLimit = try self.rateLimit(node) }
        if let node = entries["deadline"] { definition.deadline = try self.seconds(node, "deadline") }
        if let node = entries["outage_tolerance"] {
            definition.outageTolerance = try self.seconds(node, "outage_tolerance")
        }
        if let node = entries["output_dir"] {
            definition.outputDirectory = try self.string(node, "output_dir")
            guard !definition.outputDirectory.contains(where: { $0 == "{" || $0 == "}" }) else {
                throw self.fail(node, "output_dir", "may not hold '{' or '}'; put placeholders in the output paths")
            }
        }
        if let node = entries["accounts"] { definition.accounts = try self.accounts(node) }
        if let node = entries["on_incomplete"] {
            let text = try self.string(node, "on_incomplete")
            guard ["fail", "accept"].contains(text) else {
                throw self.fail(node, "on_incomplete", "'\(text)' is not one of fail, accept")
            }
            definition.acceptsIncomplete = text == "accept"
        }
        if let node = entries["on_unverified"] {
            let text = try self.string(node, "on_unverified")
            guard ["accept", "fail"].contains(text) else {
                throw self.fail(node, "on_unverified", "'\(text)' is not one of accept, fail")
            }
            definition.acceptsUnverified = text == "accept"
        }
        if let node = entries["on_changed"] { definition.onChanged = try self.choice(node, "on_changed") }
        if let node = entries["on_invalid_text"] {
            definition.onInvalidText = try self.choice(node, "on_invalid_text")
        }
        if let node = entries["metrics_file"] { definition.metricsFile = try self.string(node, "metrics_file") }
        if let node = entries["manifest"] {
            definition.manifest = try self.template(node, "manifest")
            guard !definition.manifest.isPerGroup && !definition.manifest.isPerAccount else {
                throw self.fail(
                    node,
                    "manifest",
                    "one manifest describes the whole run: {group} and {account} are not allowed"
                )
            }
        }
        guard let outputsNode = entries["outputs"] else {
            throw self.fail(root, "outputs", "missing: list at least one output")
        }
        definition.outputs = try self.outputs(outputsNode)
        if let node = entries["transform"] {
            try self.transform(node, into: &definition, outputs: outputsNode)
        }
        return definition
    }

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

    func proxy(_ node: Node) throws(PipelineFileError) -> PipelineDefinition.Proxy {
        func checkedURL(_ text: String, _ node: Node, _ key: String) throws(PipelineFileError) -> String {
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme),
                url.host != nil
            else { throw self.fail(node, key, "expected none or a URL such as http://proxy.example.com:3128") }
            guard url.user == nil && url.password == nil else {
                throw self.fail(
                    node,
                    key,
                    "credentials never go in a pipeline file; use username_env/username_file and password_env/password_file"
                )
            }
            return text
        }
        if case .scalar = node {
            let text = try self.string(node, "proxy")
            return text == "none"
                ? .none : .server(url: try checkedURL(text, node, "proxy"), username: nil, password: nil)
        }
        let entries = try self.mapping(
            node,
            "proxy",
            allowed: ["url", "username_env", "username_file", "password_env", "password_file"]
        )
        guard let urlNode = entries["url"] else { throw self.fail(node, "proxy.url", "missing: the proxy's URL") }
        let url = try checkedURL(try self.string(urlNode, "proxy.url"), urlNode, "proxy.url")
        func source(_ name: String) throws(PipelineFileError) -> PipelineDefinition.SecretSource? {
            if let node = entries[name + "_file"] { return .file(try self.string(node, "proxy.\(name)_file")) }
            if let node = entries[name + "_env"] { return .environment(try self.string(node, "proxy.\(name)_env")) }
            return nil
        }
        return .server(url: url, username: try source("username"), password: try source("password"))
    }

    func credentials(_ node: Node) throws(PipelineFileError) -> PipelineDefinition.Credentials {
        let allowed: Set<String> = [
            "api_key_env", "api_secret_env", "api_key_file", "api_secret_file", "api_key", "api_secret",
        ]
        let entries = try self.mapping(node, "credentials", allowed: allowed)
        for literal in ["api_key", "api_secret"] {
            if let node = entries[literal] {
                throw self.fail(
                    node,
                    "credentials.\(literal)",
                    "credentials never go in a pipeline file; use \(literal)_env (an environment variable) or \(literal)_file"
                )
            }
        }
        var credentials = PipelineDefinition.Credentials()
        if let node = entries["api_key_env"] {
            credentials.apiKeyEnvironment = try self.string(node, "credentials.api_key_env")
        }
        if let node = entries["api_secret_env"] {
            credentials.apiSecretEnvironment = try self.string(node, "credentials.api_secret_env")
        }
        if let node = entries["api_key_file"] {
            credentials.apiKeyFile = try self.string(node, "credentials.api_key_file")
        }
        if let node = entries["api_secret_file"] {
            credentials.apiSecretFile = try self.string(node, "credentials.api_secret_file")
        }
        return credentials
    }

    func groups(_ node: Node) throws(PipelineFileError) -> PipelineDefinition.Groups {
        switch node {
        case .scalar(let scalar) where scalar.string == "all":
            return .all
        case .sequence(let sequence):
            var ids: [String] = []
            for (index, item) in sequence.enumerated() {
                let id = try self.string(item, "groups[\(index)]")
                guard !ids.contains(id) else { throw self.fail(item, "groups[\(index)]", "'\(id)' is listed twice") }
                ids.append(id)
            }
            guard !ids.isEmpty else {
                throw self.fail(node, "groups", "the list is empty; use 'all' to export every library")
            }
            return .list(ids)
        default:
            throw self.fail(node, "groups", "expected 'all' or a list of group ids")
        }
    }

    func retry(_ node: Node) throws(PipelineFileError) -> (RetryPolicy, RetryBudget.Configuration) {
        let entries = try self.mapping(node, "retry", allowed: ["max_attempts", "base_delay", "max_delay", "budget"])
        var policy = RetryPolicy()
        var budget = RetryBudget.Configuration()
        if let node = entries["budget"] { budget.capacity = try self.integer(node, "retry.budget", in: 0...1_000_000) }
        if let node = entries["max_attempts"] {
            policy.maxAttempts = try self.integer(node, "retry.max_attempts", in: 1...100)
        }
        if let node = entries["base_delay"] { policy.baseDelay = try self.seconds(node, "retry.base_delay") }
        if let node = entries["max_delay"] { policy.maxDelay = try self.seconds(node, "retry.max_delay") }
        if policy.maxDelay < policy.baseDelay, let node = entries["max_delay"] {
            throw self.fail(node, "retry.max_delay", "must not be smaller than retry.base_delay")
        }
        return (policy, budget)
    }

    func rateLimit(_ node: Node) throws(PipelineFileError) -> RateLimitConfiguration {
        let allowed: Set<String> = ["mode", "requests_per_second", "max_requests_per_second", "burst", "max_in_flight"]
        let entries = try self.mapping(node, "rate_limit", allowed: allowed)
        var configuration = RateLimitConfiguration()
        if let node = entries["mode"] {
            let text = try self.string(node, "rate_limit.mode")
            guard let mode = RateLimitConfiguration.Mode(rawValue: text) else {
                throw self.fail(node, "rate_limit.mode", "'\(text)' is not one of adaptive, fixed")
            }
            configuration.mode = mode
        }
        if let node = entries["requests_per_second"] {
            configuration.requestsPerSecond = try self.positiveNumber(
                node,
                "rate_limit.requests_per_second",
                of: "requests per second"
            )
        }
        if let node = entries["max_requests_per_second"] {
            configuration.maxRequestsPerSecond = try self.positiveNumber(
                node,
                "rate_limit.max_requests_per_second",
                of: "requests per second"
            )
            if configuration.maxRequestsPerSecond < configuration.requestsPerSecond {
                throw self.fail(
                    node,
                    "rate_limit.max_requests_per_second",
                    "must not be below rate_limit.requests_per_second"
                )
            }
        }
        if let node = entries["burst"] {
            configuration.burst = try self.integer(node, "rate_limit.burst", in: 1...10_000)
        }
        if let node = entries["max_in_flight"] {
            configuration.maxInFlight = try self.integer(node, "rate_limit.max_in_flight", in: 1...10_000)
        }
        return configuration
    }

    func accounts(_ node: Node) throws(PipelineFileError) -> [PipelineDefinition.Account] {
        guard case .sequence(let sequence) = node, !sequence.isEmpty else {
            throw self.fail(node, "accounts", "expected a list of accounts, e.g. '- {name: sgp-1, credentials: {...}}'")
        }
        var accounts: [PipelineDefinition.Account] = []
        for (index, item) in sequence.enumerated() {
            let key = "accounts[\(index)]"
            let entries = try self.mapping(
                item,
                key,
                allowed: ["name", "endpoint", "credentials", "groups", "groups_file", "rate_limit"]
            )
            guard let nameNode = entries["name"] else {
                throw self.fail(item, "\(key).name", "missing: the account's name")
            }
            var account = PipelineDefinition.Account(name: try self.string(nameNode, "\(key).name"))
            guard !accounts.contains(where: { $0.name == account.name }) else {
                throw self.fail(nameNode, "\(key).name", "another account is already named '\(account.name)'")
            }
            if let node = entries["endpoint"] {
                let text = try self.string(node, "\(key).endpoint")
                guard text != "embedded" else {
                    throw self.fail(node, "\(key).endpoint", "'embedded' is set once, as the pipeline's endpoint")
                }
                account.endpoint = text
            }
            if let node = entries["credentials"] { account.credentials = try self.credentials(node) }
            if entries["groups"] != nil, let fileNode = entries["groups_file"] {
                throw self.fail(fileNode, "\(key).groups_file", "give either groups or groups_file, not both")
            }
            if let node = entries["groups"] { account.groups = try self.groups(node) }
            if let node = entries["groups_file"] { account.groups = .file(try self.string(node, "\(key).groups_file")) }
            if let node = entries["rate_limit"] { account.rateLimit = try self.rateLimit(node) }
            accounts.append(account)
        }
        return accounts
    }

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
        let engine: GzipCompression.Engine = try self.choice(engineNode, "\(key).engine")
        guard let levelNode = entries["level"] else { return GzipCompression(engine: engine)! }
        let level = try self.integer(levelNode, "\(key).level", in: engine.levels)
        return GzipCompression(engine: engine, level: level)!
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
                "file_mode", "changes",
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
                guard format != .sqlite else {
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
            if let node = entries["compression"] {
                guard format != .sqlite else { throw self.fail(node, "\(key).compression", "only for ndjson and csv") }
                guard path.text.hasSuffix(".gz") else {
                    throw self.fail(node, "\(key).compression", "'\(path.text)' is not compressed: only .gz paths are")
                }
                output.compression = try self.compression(node, "\(key).compression")
            }
            if let node = entries["escape_formulas"] {
                guard format == .csv else { throw self.fail(node, "\(key).escape_formulas", "only for csv") }
                output.escapeFormulas = try self.boolean(node, "\(key).escape_formulas")
            }
            if let node = entries["mode"] {
                guard format == .sqlite else { throw self.fail(node, "\(key).mode", "only for sqlite") }
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
