import ExportPipeline
import FaceSearch
import FaceSearchSimulation
import FaceSearchSimulator
import Logging
import PipelineFile

extension PipelineLauncher {
    /// One account ready to run: where, with which key, which libraries, how fast.
    struct ResolvedAccount: Sendable {
        let name: String
        /// nil for the embedded simulator, whose port is known only once it runs.
        var endpoint: FaceSearchEndpoint?
        var credentials: FaceSearchCredentials
        let groups: AccountJob.Groups
        let rateLimit: RateLimitConfiguration
        /// What the fingerprint says of the account.
        let description: String
    }

    /// Resolves the accounts and runs `body` with them, inside a running embedded simulator when
    /// the pipeline uses one.
    func withAccounts<T: Sendable>(_ body: ([ResolvedAccount]) async throws -> T) async throws -> T {
        var accounts = try self.resolveAccounts()
        guard accounts.contains(where: { $0.endpoint == nil }), case .embedded(let settings) = self.definition.endpoint
        else {
            return try await body(accounts)
        }
        // The embedded simulator serves every account that uses it, each with its own key and libraries.
        var credentials: [String: String] = [:]
        var datasets: [String: Dataset] = [:]
        for (index, account) in accounts.enumerated() where account.endpoint == nil {
            credentials[account.credentials.apiKey] = account.credentials.apiSecret
            datasets[account.credentials.apiKey] = DatasetGenerator(
                groups: settings.groups,
                faces: settings.faces,
                sizing: .mixed,
                seed: settings.seed + UInt64(index)
            ).make()
        }
        var configuration = SimulatorConfiguration(credentials: credentials)
        configuration.startCap = settings.strictStartCap ? .strict(1000) : .lax
        configuration.addTimeStyle = SimulatorConfiguration.AddTimeStyle(settings.addTimeStyle)
        configuration.sendsNext = settings.sendsNext
        configuration.mutationRate = settings.mutationRate
        configuration.faults = FaultPlan(settings.faults)
        configuration.clockOffset = settings.clockOffset
        // The server's own notes (e.g. "Waiting on child channel: CancellationError()" when it is shut
        // down early) mean nothing to a person running a pipeline.
        var simulatorLogger = self.logger
        simulatorLogger.logLevel = .critical
        let simulator = FaceSearchSimulator(configuration: configuration, datasets: datasets, logger: simulatorLogger)
        return try await simulator.withRunning { port in
            let endpoint = try FaceSearchEndpoint("http://127.0.0.1:\(port)")
            for index in accounts.indices where accounts[index].endpoint == nil { accounts[index].endpoint = endpoint }
            return try await body(accounts)
        }
    }

    /// The pipeline's accounts with the top-level settings filled in and the flags applied.
    private func resolveAccounts() throws -> [ResolvedAccount] {
        let specs =
            self.definition.accounts.isEmpty ? [PipelineDefinition.Account(name: "default")] : self.definition.accounts
        if self.overrides.groupsFile != nil && specs.count > 1 {
            throw LaunchError("--groups-file names the libraries of one account; this pipeline has \(specs.count)")
        }
        return try specs.enumerated().map { index, spec in
            let choice =
                self.overrides.endpoint.map(PipelineDefinition.Endpoint.remote)
                ?? spec.endpoint.map(PipelineDefinition.Endpoint.remote) ?? self.definition.endpoint
            let groups =
                self.overrides.groupsFile.map(PipelineDefinition.Groups.file) ?? spec.groups ?? self.definition.groups
            let selection: AccountJob.Groups
            switch groups {
            case .all: selection = .all
            case .list(let ids): selection = .list(ids)
            case .file(let path): selection = .list(try GroupsFile.load(path: path))
            }
            let endpoint: FaceSearchEndpoint?
            let credentials: FaceSearchCredentials
            let place: String
            switch choice {
            case .remote(let root):
                do { endpoint = try FaceSearchEndpoint(root) } catch { throw LaunchError("\(error)") }
                credentials = try Secrets.credentials(spec.credentials ?? self.definition.credentials)
                place = root
            case .embedded(let settings):
                endpoint = nil
                credentials = FaceSearchCredentials(
                    apiKey: "embedded-\(index)-" + RunIdentity.randomHex(6),
                    apiSecret: RunIdentity.randomHex(24)
                )
                place = "embedded \(settings.groups),\(settings.faces),\(settings.seed + UInt64(index))"
            }
            let groupsText: String
            switch selection {
            case .all: groupsText = "all"
            case .list(let ids): groupsText = ids.joined(separator: ",")
            }
            return ResolvedAccount(
                name: spec.name,
                endpoint: endpoint,
                credentials: credentials,
                groups: selection,
                rateLimit: spec.rateLimit ?? self.definition.rateLimit,
                description: "\(spec.name)|\(place)|\(groupsText)"
            )
        }
    }
}

extension SimulatorConfiguration.AddTimeStyle {
    /// The simulator's style for a pipeline file's `simulator.add_time_style`.
    init(_ style: PipelineDefinition.EmbeddedSimulator.AddTimeStyle) {
        switch style {
        case .number: self = .number
        case .string: self = .string
        case .mixed: self = .mixed
        }
    }
}

extension FaultPlan {
    /// The simulator's plan for a pipeline file's `simulator.faults`.
    init(_ faults: PipelineDefinition.EmbeddedSimulator.Faults) {
        self.init()
        self.latency = faults.latency
        self.latencyJitter = faults.latencyJitter
        self.errorRate = faults.errorRate
        self.resetRate = faults.resetRate
        self.truncateRate = faults.truncateRate
        self.endlessRate = faults.endlessRate
        self.damagedTextRate = faults.damagedTextRate
        self.slowRate = faults.slowRate
        self.slowDelay = faults.slowDelay
        self.expiredSignatureRate = faults.expiredSignatureRate
        self.requestsPerSecondLimit = faults.requestsPerSecondLimit
        self.inFlightLimit = faults.inFlightLimit
        self.limitStatus = faults.limitStatus
        self.retryAfter = faults.retryAfter
        self.seed = faults.seed
    }
}
