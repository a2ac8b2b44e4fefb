import ExportPipeline
import ExportSinks
import FaceSearch
import Foundation
import Yams

/// Where the API is and who calls it: `proxy`, `credentials`, `groups`, `accounts`.
extension DefinitionReader {
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

    /// A `tls:` section: a bundle to trust, and whether only it.
    func tls(_ node: Node, _ key: String) throws(PipelineFileError) -> (caFile: String?, caOnly: Bool) {
        let tls = try self.mapping(node, key, allowed: ["ca_file", "ca_only"])
        let caFile = try tls["ca_file"].map { file throws(PipelineFileError) in try self.string(file, "\(key).ca_file")
        }
        let caOnly = try tls["ca_only"].map { only throws(PipelineFileError) in try self.boolean(only, "\(key).ca_only")
        }
        if caOnly == true && caFile == nil {
            throw self.fail(
                node,
                "\(key).ca_only",
                "needs \(key).ca_file: the certificates to trust instead of the system's"
            )
        }
        return (caFile, caOnly ?? false)
    }

    /// The `storage:` section.
    func storage(_ node: Node) throws(PipelineFileError) -> PipelineDefinition.Storage {
        let entries = try self.mapping(
            node,
            "storage",
            allowed: [
                "endpoint", "region", "path_style", "part_size", "parts_in_flight", "checkpoint_interval", "proxy",
                "tls",
            ]
        )
        var storage = PipelineDefinition.Storage()
        if let node = entries["endpoint"] {
            storage.endpoint = try self.serviceURL(node, "storage.endpoint", example: "https://minio.internal:9000")
        }
        if let node = entries["region"] { storage.region = try self.string(node, "storage.region") }
        if let node = entries["path_style"] { storage.pathStyle = try self.boolean(node, "storage.path_style") }
        if let node = entries["part_size"] {
            storage.partSize = try self.byteSize(node, "storage.part_size", in: (5 << 20)...(5 << 30))
        }
        if let node = entries["parts_in_flight"] {
            storage.partsInFlight = try self.integer(node, "storage.parts_in_flight", in: 1...16)
        }
        if let node = entries["checkpoint_interval"] {
            storage.checkpointInterval = try self.seconds(node, "storage.checkpoint_interval")
        }
        if let node = entries["proxy"] { storage.proxy = try self.proxy(node) }
        if let node = entries["tls"] { (storage.caFile, storage.caOnly) = try self.tls(node, "storage.tls") }
        return storage
    }

    /// The `metrics:` section: a Pushgateway, and the textfile (also `metrics_file`, given before).
    func metrics(
        _ node: Node,
        file: String?
    ) throws(PipelineFileError) -> (push: PipelineDefinition.MetricsPush?, file: String?) {
        let entries = try self.mapping(
            node,
            "metrics",
            allowed: ["file", "pushgateway", "push_interval", "job", "proxy", "tls"]
        )
        var file = file
        if let node = entries["file"] {
            guard file == nil else { throw self.fail(node, "metrics.file", "give either metrics_file or metrics.file") }
            file = try self.string(node, "metrics.file")
        }
        guard let urlNode = entries["pushgateway"] else {
            for key in ["push_interval", "job", "proxy", "tls"] {
                if let node = entries[key] { throw self.fail(node, "metrics.\(key)", "only with metrics.pushgateway") }
            }
            return (nil, file)
        }
        var push = PipelineDefinition.MetricsPush(
            url: try self.serviceURL(urlNode, "metrics.pushgateway", example: "https://pushgateway.monitoring:9091")
        )
        if let node = entries["push_interval"] {
            push.interval = try self.seconds(node, "metrics.push_interval")
            guard push.interval >= 1 else { throw self.fail(node, "metrics.push_interval", "must be 1s or more") }
        }
        if let node = entries["job"] {
            push.job = try self.string(node, "metrics.job")
            guard !push.job.isEmpty else { throw self.fail(node, "metrics.job", "may not be empty") }
        }
        if let node = entries["proxy"] { push.proxy = try self.proxy(node) }
        if let node = entries["tls"] { (push.caFile, push.caOnly) = try self.tls(node, "metrics.tls") }
        return (push, file)
    }

    /// The root of a service besides the API (a store, a Pushgateway): http or https, no
    /// credentials, plain http only to this machine.
    func serviceURL(_ node: Node, _ key: String, example: String) throws(PipelineFileError) -> String {
        let text = try self.string(node, key)
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty, ["http", "https"].contains(scheme)
        else { throw self.fail(node, key, "expected a URL such as \(example)") }
        guard url.user == nil && url.password == nil else {
            throw self.fail(node, key, "credentials never go in a pipeline file")
        }
        guard scheme == "https" || FaceSearchEndpoint.isLoopback(host: host) else {
            throw self.fail(
                node,
                key,
                "plain http is refused for '\(host)': use https, or http only to a server on this machine"
            )
        }
        return text
    }

    /// An `output_dir` of `s3://BUCKET/PREFIX`: a bucket name S3 accepts.
    func checkObjectStorageFolder(_ node: Node, _ text: String) throws(PipelineFileError) {
        let rest = text.dropFirst(5)
        let bucket = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let allowed = bucket.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
        guard (3...63).contains(bucket.count), allowed, bucket.first?.isLetter == true || bucket.first?.isNumber == true
        else {
            throw self.fail(
                node,
                "output_dir",
                "'\(bucket)' is not a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens "
                    + "(s3://BUCKET/PREFIX)"
            )
        }
        guard !rest.contains("//") else { throw self.fail(node, "output_dir", "holds an empty folder name ('//')") }
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
}
