import Dispatch
import ExportPipeline
import ExportSinks
import FaceExportCrypto
import FaceSearch
import FaceSearchSimulator
import Foundation
import Logging
import PipelineFile

/// Why a pipeline could not be started; nothing was exported.
struct LaunchError: Error, CustomStringConvertible {
    let description: String
    /// The exit code it stands for: configuration (4) unless said otherwise.
    var exitCode = ExitStatus.configuration
}

/// Turns a checked pipeline into a running export: credentials, endpoint (starting the embedded
/// simulator if asked), client, sinks; then runs it on a dedicated thread.
struct PipelineLauncher {
    /// Command-line flags that win over the file.
    struct Overrides {
        var endpoint: String?
        var groupsFile: String?
        var outputDirectory: String?
        var shard: Shard?
        /// Continue the run this pipeline's journal describes.
        var resume = false
    }

    let definition: PipelineDefinition
    /// The pipeline file's path, for errors that point into it.
    let file: String
    let overrides: Overrides
    let logger: Logger
    /// Raised by the signal handlers; the run stops issuing requests and discards its outputs.
    let stop: StopSignal
    /// Told the run as it starts, for the progress line.
    var onStart: (ExportRun) -> Void = { _ in }
    /// The run's file operations: direct, unless a crash test asks to stop at one.
    var steps = CrashTestSteps.fromEnvironment()

    /// Checks what can be checked without calling the API; returns notes worth showing.
    static func check(_ definition: PipelineDefinition, file: String) throws -> [String] {
        var notes: [String] = []
        let accounts = definition.accounts.isEmpty ? [PipelineDefinition.Account(name: "default")] : definition.accounts
        for account in accounts {
            if case .remote(let root) = account.endpoint.map(PipelineDefinition.Endpoint.remote) ?? definition.endpoint
            {
                do { _ = try FaceSearchEndpoint(root) } catch { throw LaunchError(description: "endpoint: \(error)") }
                if (try? Self.credentials(account.credentials ?? definition.credentials)) == nil {
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
                throw LaunchError(description: "\(file): \(error)")
            }
        }
        if let source = definition.transform.hashKey {
            // Validation runs where the job runs: a key that cannot be read there fails the run too.
            if let problem = RecordTransform.keyProblem(try Self.hashKey(source, definition: definition, file: file)) {
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

    /// The pseudonymisation key from its environment variable or file; errors name the pipeline's line.
    static func hashKey(
        _ source: TransformConfiguration.KeySource,
        definition: PipelineDefinition,
        file: String
    ) throws -> [UInt8] {
        func fail(_ message: String) -> PipelineFileError {
            PipelineFileError(file: file, line: definition.hashKeyLine, key: "transform.hash_key", message: message)
        }
        switch source {
        case .environment(let variable):
            guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else {
                throw fail("the environment variable \(variable) is not set (it holds the hash key)")
            }
            return Array(text.utf8)
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw fail("cannot read the key file \(path)")
            }
            let key = Array(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            guard !key.isEmpty else { throw fail("the key file \(path) is empty") }
            return key
        }
    }

    /// One account ready to run: where, with which key, which libraries, how fast.
    struct ResolvedAccount {
        let name: String
        /// nil for the embedded simulator, whose port is known only once it runs.
        var endpoint: FaceSearchEndpoint?
        var credentials: FaceSearchCredentials
        let groups: AccountJob.Groups
        let rateLimit: RateLimitConfiguration
        /// What the fingerprint says of the account.
        let description: String
    }

    func launch() async throws -> RunReport {
        try await self.withAccounts { accounts in try await self.export(accounts) }
    }

    /// The pipeline's transform with the run's values; `hashKey` as read by ``hashKey(_:definition:file:)``.
    func makeTransform(hashKey: [UInt8]?, runID: String, startedAt: Int64) throws -> RecordTransform {
        do {
            return try RecordTransform(
                configuration: self.definition.transform,
                hashKey: hashKey,
                run: RecordTransform.RunValues(runID: runID, startedAt: startedAt)
            )
        } catch {
            throw LaunchError(description: "\(self.file): \(error)")
        }
    }

    /// Runs a blocking call on its own thread, off the cooperative pool.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: "faceexport.blocking").async { continuation.resume(with: Result { try body() }) }
        }
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
        configuration.addTimeStyle = SimulatorConfiguration.AddTimeStyle(rawValue: settings.addTimeStyle.rawValue)!
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
            throw LaunchError(
                description: "--groups-file names the libraries of one account; this pipeline has \(specs.count)"
            )
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
                do { endpoint = try FaceSearchEndpoint(root) } catch { throw LaunchError(description: "\(error)") }
                credentials = try Self.credentials(spec.credentials ?? self.definition.credentials)
                place = root
            case .embedded(let settings):
                endpoint = nil
                credentials = FaceSearchCredentials(
                    apiKey: "embedded-\(index)-" + Self.randomHex(6),
                    apiSecret: Self.randomHex(24)
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

    private func export(_ accounts: [ResolvedAccount]) async throws -> RunReport {
        let now = Date()
        var runID = Self.makeRunID(now)
        var runDate = Self.utcDate(now)
        var startedAt = Int64((now.timeIntervalSince1970 * 1000).rounded())
        let folder = self.overrides.outputDirectory ?? self.definition.outputDirectory
        let shard = self.overrides.shard
        if let shard {
            let unsharded = self.definition.outputs.map(\.path) + [self.definition.manifest]
            if let path = unsharded.first(where: { !$0.isPerShard }) {
                throw LaunchError(
                    description:
                        "with --shard \(shard.index)/\(shard.count) every output path and the manifest must contain {shard}, "
                        + "or the shards overwrite each other: '\(path.text)' does not"
                )
            }
        }
        // Two runs of this pipeline (shard) on this output never overlap; the kernel frees the lock if we die.
        let lockName = self.definition.name + (shard.map { "-shard-\($0)" } ?? "")
        let lock: RunLock
        do {
            lock = try RunLock(
                folder: folder,
                pipeline: lockName,
                note:
                    "pid \(getpid()) on \(ProcessInfo.processInfo.hostName), started \(Self.format(now, "yyyy-MM-dd'T'HH:mm:ss'Z'"))"
            )
        } catch .held(let path, let holder) {
            throw LaunchError(
                description: RunLock.Failure.held(path: path, holder: holder).description,
                exitCode: ExitStatus.lockHeld
            )
        } catch .unavailable(let error) {
            // Not another run: the folder itself cannot be written. Nothing was called.
            throw LaunchError(
                description:
                    "cannot write to the output folder: \(error); check output_dir (or --out) and its permissions"
            )
        }
        defer { lock.release() }
        let journalPath = folder + "/.faceexport/" + SafeFileName.make(lockName) + ".journal"
        // A run killed while renaming its files into place left its commit in the journal: finish it first.
        do {
            if let plan = try CommitPlan.finishInterrupted(journalPath: journalPath, steps: self.steps) {
                let message =
                    "run \(plan.runID) was interrupted while putting its outputs in place; that is now finished (\(plan.outcome))"
                self.logger.warning("\(message)")
                if self.overrides.resume {
                    throw LaunchError(
                        description: message,
                        exitCode: plan.outcome == .complete ? ExitStatus.complete : ExitStatus.partial
                    )
                }
            }
        } catch let error as LaunchError {
            throw error
        } catch {
            throw LaunchError(
                description: "cannot finish the interrupted commit: \(error)",
                exitCode: ExitStatus.failed
            )
        }
        let hashKey = try self.definition.transform.hashKey.map { source in
            try Self.hashKey(source, definition: self.definition, file: self.file)
        }
        let fingerprint = self.fingerprint(folder: folder, shard: shard, accounts: accounts, hashKey: hashKey)
        let previous = ResumeState.read(path: journalPath, outputs: self.definition.outputs.count)
        var resume: ResumeState?
        if self.overrides.resume {
            guard let previous else {
                if let damage = ResumeState.damage(path: journalPath) {
                    throw LaunchError(
                        description:
                            "cannot resume: \(damage), before it names its run; run without --resume to start over"
                    )
                }
                throw LaunchError(description: "nothing to resume: no interrupted run of '\(lockName)' in \(folder)")
            }
            guard previous.fingerprint == fingerprint else {
                throw LaunchError(
                    description:
                        "cannot resume run \(previous.runID): the pipeline's outputs, groups, endpoint, transform, hash key or "
                        + "output folder "
                        + "changed since it was interrupted; run without --resume to start over"
                )
            }
            runID = previous.runID
            runDate = previous.date
            if previous.startedAt > 0 { startedAt = previous.startedAt }
            resume = previous
            if let damage = previous.damage {
                self.logger.warning(
                    "\(damage); continuing from the last line before it (the pages after it are fetched again)"
                )
            }
        } else if let previous {
            // A new run replaces an interrupted one: its temporary files go.
            Self.removeTemporaryFiles(of: previous.runID, under: folder, steps: self.steps)
        }
        var logger = self.logger
        logger[metadataKey: "run_id"] = "\(runID)"
        let jobs = try accounts.map { account in
            var accountLogger = logger
            accountLogger[metadataKey: "account"] = "\(account.name)"
            let client = FaceSearchClient(
                endpoint: account.endpoint!,
                signer: RequestSigner(credentials: account.credentials),
                transport: try self.transport(),
                logger: accountLogger,
                repairsText: self.definition.onInvalidText == .repair
            )
            return AccountJob(
                name: account.name,
                client: client,
                groups: account.groups,
                rateLimit: Self.share(of: account.rateLimit, shards: shard?.count ?? 1),
                retryBudget: self.definition.retryBudget
            )
        }
        let transform = try self.makeTransform(hashKey: hashKey, runID: runID, startedAt: startedAt)
        let values = OutputPathTemplate.RunValues(
            date: runDate,
            runID: runID,
            pipeline: self.definition.name,
            shard: shard.map(\.description) ?? "all"
        )
        var sinks: [any RecordSink] = []
        for output in self.definition.outputs {
            var configuration = output
            configuration.path = try Self.underFolder(folder, output.path)
            configuration.changesPath = try output.changesPath.map { try Self.underFolder(folder, $0) }
            configuration.steps = self.steps
            sinks.append(OutputSink(configuration: configuration, run: values, schema: transform.schema))
        }
        var configuration = ExportConfiguration(runID: runID)
        configuration.pipeline = self.definition.name
        configuration.manifestPath = try Self.underFolder(folder, self.definition.manifest).resolve(
            values,
            account: nil,
            group: nil
        )
        configuration.concurrency = self.definition.concurrency
        configuration.pageSize = self.definition.pageSize
        configuration.retry = self.definition.retry
        configuration.onChanged = self.definition.onChanged
        configuration.acceptsUnverified = self.definition.acceptsUnverified
        configuration.deadline = self.definition.deadline
        configuration.outageTolerance = self.definition.outageTolerance
        configuration.shard = shard
        configuration.journalPath = journalPath
        configuration.fingerprint = fingerprint
        configuration.runDate = runDate
        configuration.resume = resume
        configuration.startedAt = startedAt
        configuration.transform = transform
        configuration.fileSteps = self.steps
        let run = ExportRun(
            configuration: configuration,
            accounts: jobs,
            sinks: sinks,
            stop: self.stop,
            logger: logger
        )
        self.onStart(run)
        // The run blocks while it works; it gets its own thread, off the cooperative pool.
        let report = try await Self.offThePool { run.run() }
        if (resume != nil || report.outcome == .failed) && !FileManager.default.fileExists(atPath: journalPath) {
            // The run is over for good: nothing of its id may stay behind, not even what an earlier
            // attempt of it left outside the sinks' own files (a manifest it was writing when it died).
            Self.removeTemporaryFiles(of: runID, under: folder, steps: self.steps)
        }
        return report
    }

    /// A digest of everything that decides what the outputs hold and where: a run may be resumed
    /// only under the same.
    private func fingerprint(folder: String, shard: Shard?, accounts: [ResolvedAccount], hashKey: [UInt8]?) -> String {
        var parts = ["name=\(self.definition.name)", "folder=\(folder)", "shard=\(shard?.description ?? "all")"]
        parts += accounts.map { "account=\($0.description)" }
        for output in self.definition.outputs {
            parts.append(
                "output=\(output.format.rawValue)|\(output.path.text)|\(output.compression)|\(output.escapeFormulas)|"
                    + "\(output.sqliteMode.rawValue)|\(output.fileMode)|\(output.changesPath?.text ?? "")"
            )
        }
        parts.append("manifest=\(self.definition.manifest.text)")
        parts.append("transform=\(self.definition.transform.digest)")
        // Only when not the default, so that journals of earlier versions still resume.
        if self.definition.onInvalidText != .repair { parts.append("invalid_text=\(self.definition.onInvalidText)") }
        if let hashKey {
            // A resumed run must hash with the same key; the journal keeps only this one-way check of it.
            parts.append("key=\(Hex.encode(HMAC.sha256(key: hashKey, message: Array("faceexport key check".utf8))))")
        }
        return Hex.encode(HMAC.sha256(key: [UInt8](), message: Array(parts.joined(separator: "\n").utf8)))
    }

    /// Removes what an interrupted run left under `folder`: files named `*.tmp-<run id>` (and SQLite's companions).
    private static func removeTemporaryFiles(of runID: String, under folder: String, steps: FileSteps) {
        let suffix = ".tmp-" + runID
        guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return }
        while let path = enumerator.nextObject() as? String {
            let name = (path as NSString).lastPathComponent
            if ["", "-wal", "-shm", "-journal"].contains(where: { name.hasSuffix(suffix + $0) }) {
                steps.remove(folder + "/" + path)
            }
        }
    }

    /// One shard's part of the account's pacing: rates and calls in flight divided by the shard count,
    /// so N shards together stay within what one run would use.
    static func share(of rateLimit: RateLimitConfiguration, shards: Int) -> RateLimitConfiguration {
        guard shards > 1 else { return rateLimit }
        var share = rateLimit
        share.requestsPerSecond /= Double(shards)
        share.maxRequestsPerSecond /= Double(shards)
        share.minRequestsPerSecond = min(share.minRequestsPerSecond, share.requestsPerSecond)
        share.maxInFlight = max(1, rateLimit.maxInFlight / shards)
        return share
    }

    /// `template` placed under `folder`.
    private static func underFolder(_ folder: String, _ template: OutputPathTemplate) throws -> OutputPathTemplate {
        do {
            return try OutputPathTemplate(folder + "/" + template.text)
        } catch {
            throw LaunchError(description: "output folder '\(folder)': \(error)")
        }
    }

    /// A transport over the pipeline's HTTP stack, proxy and trust; a setting that cannot be read is
    /// a configuration error.
    func transport() throws -> any FaceSearchTransport {
        var network = NetworkOptions()
        switch self.definition.proxy {
        case .environment: network.proxy = .environment
        case .none: network.proxy = .none
        case .server(let url, let username, let password):
            network.proxy = .server(
                url,
                username: try username.map { try Self.secret($0, what: "proxy user name") },
                password: try password.map { try Self.secret($0, what: "proxy password") }
            )
        }
        network.caFile = self.definition.caFile
        network.caOnly = self.definition.caOnly
        do {
            return try self.definition.httpClient.transport(
                timeout: self.definition.requestTimeout,
                network: network
            )
        } catch {
            throw LaunchError(description: "\(self.file): \(error)")
        }
    }

    /// A secret from its environment variable or file (surrounding whitespace ignored in a file);
    /// never logged. `orElse` follows the advice to set the variable when it is missing.
    static func secret(_ source: PipelineDefinition.SecretSource, what: String, orElse: String = "") throws -> String {
        switch source {
        case .environment(let variable):
            guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                throw LaunchError(description: "the \(what) is missing: set \(variable)\(orElse)")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else { throw LaunchError(description: "cannot read the \(what) file \(path)") }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw LaunchError(description: "the \(what) file \(path) is empty") }
            return trimmed
        }
    }

    /// The key and secret from their files or environment variables.
    static func credentials(_ source: PipelineDefinition.Credentials) throws -> FaceSearchCredentials {
        func value(file: String?, environment: String, what: String) throws -> String {
            try Self.secret(
                file.map { .file($0) } ?? .environment(environment),
                what: what,
                orElse: " or name a file in the pipeline's credentials"
            )
        }
        return FaceSearchCredentials(
            apiKey: try value(file: source.apiKeyFile, environment: source.apiKeyEnvironment, what: "API key"),
            apiSecret: try value(
                file: source.apiSecretFile,
                environment: source.apiSecretEnvironment,
                what: "API secret"
            )
        )
    }

    private static func makeRunID(_ now: Date) -> String {
        Self.format(now, "yyyyMMdd'T'HHmmss'Z'") + "-" + Self.randomHex(3)
    }

    /// The run's `{date}`: its start, UTC, `YYYY-MM-DD`.
    private static func utcDate(_ now: Date) -> String { Self.format(now, "yyyy-MM-dd") }

    private static func format(_ date: Date, _ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
        return formatter.string(from: date)
    }

    static func randomHex(_ bytes: Int) -> String {
        Hex.encode((0..<bytes).map { _ in UInt8.random(in: 0...255) })
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
