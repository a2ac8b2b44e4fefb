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

extension DefinitionReader {
    func read(_ root: Node) throws(PipelineFileError) -> PipelineDefinition {
        let keys: Set<String> = [
            "name", "endpoint", "simulator", "credentials", "groups", "groups_file", "concurrency", "page_size",
            "request_timeout", "retry", "rate_limit", "deadline", "output_dir", "outputs", "manifest", "on_incomplete",
            "on_changed", "on_unverified", "on_invalid_text", "outage_tolerance", "accounts", "proxy", "tls",
            "metrics_file", "metrics", "transform",
            "http_client", "storage", "state",
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
        if let node = entries["tls"] { (definition.caFile, definition.caOnly) = try self.tls(node, "tls") }
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
        if let node = entries["storage"] {
            guard definition.outputDirectory.hasPrefix("s3://") else {
                throw self.fail(node, "storage", "only for an output_dir in object storage (s3://BUCKET/PREFIX)")
            }
            definition.storage = try self.storage(node)
        }
        if let node = entries["state"] { definition.stateDirectory = try self.string(node, "state") }
        if definition.outputDirectory.hasPrefix("s3://") {
            try self.checkObjectStorageFolder(entries["output_dir"]!, definition.outputDirectory)
            if definition.stateDirectory == nil {
                throw self.fail(
                    entries["output_dir"]!,
                    "state",
                    "missing: outputs in object storage need a place for the run's journal and lock: a local "
                        + "folder (state: /var/lib/faceexport) or a prefix of the bucket (state: s3://BUCKET/PREFIX)"
                )
            }
        }
        if let state = definition.stateDirectory, state.hasPrefix("s3://"), let node = entries["state"] {
            let bucket = { (path: String) in
                path.dropFirst(5).split(separator: "/", maxSplits: 1).first.map(String.init)
            }
            guard definition.outputDirectory.hasPrefix("s3://"), bucket(state) == bucket(definition.outputDirectory)
            else {
                throw self.fail(
                    node,
                    "state",
                    "a state in object storage must be in the bucket of output_dir (s3://BUCKET/PREFIX)"
                )
            }
            guard !state.dropFirst(5).contains("//") else {
                throw self.fail(node, "state", "holds an empty folder name ('//')")
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
        if let node = entries["metrics"] {
            (definition.metricsPush, definition.metricsFile) = try self.metrics(node, file: definition.metricsFile)
        }
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
}
