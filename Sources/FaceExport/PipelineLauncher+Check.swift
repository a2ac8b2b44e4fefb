import ExportPipeline
import FaceSearch
public import PipelineFile
import Transport

extension PipelineLauncher {
    /// Checks what can be checked without calling the API (`faceexport validate`); returns notes worth showing.
    public static func check(_ definition: PipelineDefinition, file: String) throws -> [String] {
        var notes: [String] = []
        let accounts = definition.accounts.isEmpty ? [PipelineDefinition.Account(name: "default")] : definition.accounts
        for account in accounts {
            if case .remote(let root) = account.endpoint.map(PipelineDefinition.Endpoint.remote) ?? definition.endpoint
            {
                do { _ = try FaceSearchEndpoint(root) } catch { throw LaunchError("endpoint: \(error)") }
                if (try? Secrets.credentials(account.credentials ?? definition.credentials)) == nil {
                    notes.append(
                        "account '\(account.name)': credentials are not available in this environment; a run needs them"
                    )
                }
            }
            if case .file(let path) = account.groups ?? definition.groups { _ = try GroupsFile.load(path: path) }
        }
        if let caFile = definition.caFile {
            // Read where the job runs, as the credentials are: a bundle that cannot be read fails the run too.
            var network = NetworkOptions()
            network.caFile = caFile
            network.caOnly = definition.caOnly
            do {
                _ = try definition.httpClient.transport(timeout: definition.requestTimeout, network: network)
            } catch {
                throw LaunchError("\(file): \(error)")
            }
        }
        if let source = definition.transform.hashKey {
            // Validation runs where the job runs: a key that cannot be read there fails the run too.
            if let problem = RecordTransform.keyProblem(try Secrets.hashKey(source, definition: definition, file: file))
            {
                throw PipelineFileError(
                    file: file,
                    line: definition.hashKeyLine,
                    key: problem.key,
                    message: problem.message
                )
            }
        }
        return notes
    }

    /// A transport over the pipeline's HTTP stack, proxy and trust; a setting that cannot be read is
    /// a configuration error.
    func transport() throws(LaunchError) -> any HTTPTransport {
        var network = NetworkOptions()
        network.proxy = try self.networkProxy(self.definition.proxy)
        network.caFile = self.definition.caFile
        network.caOnly = self.definition.caOnly
        do {
            return try self.definition.httpClient.transport(timeout: self.definition.requestTimeout, network: network)
        } catch {
            throw LaunchError("\(self.file): \(error)")
        }
    }
}

extension PipelineLauncher {
    /// The transport's proxy for a `proxy:` key; its user name and password read where they are kept.
    func networkProxy(_ proxy: PipelineDefinition.Proxy) throws(LaunchError) -> NetworkOptions.Proxy {
        switch proxy {
        case .environment: return .environment
        case .none: return .none
        case .server(let url, let username, let password):
            return .server(
                url,
                username: try username.map { source throws(LaunchError) in
                    try Secrets.read(source, what: "proxy user name")
                },
                password: try password.map { source throws(LaunchError) in
                    try Secrets.read(source, what: "proxy password")
                }
            )
        }
    }

    /// A transport to a service besides the API (the store, a Pushgateway), through `proxy`,
    /// trusting `caFile` (instead of the system's store with `caOnly`); `section` names the
    /// pipeline's section in an error.
    func serviceTransport(
        proxy: PipelineDefinition.Proxy,
        caFile: String?,
        caOnly: Bool,
        timeout: Double,
        section: String
    ) throws(LaunchError) -> any HTTPTransport {
        var network = NetworkOptions()
        network.proxy = try self.networkProxy(proxy)
        network.caFile = caFile
        network.caOnly = caOnly
        do {
            return try self.definition.httpClient.transport(timeout: timeout, network: network)
        } catch {
            throw LaunchError("\(self.file): \(section): \(error)")
        }
    }
}
