public import ExportPipeline
public import ExportSinks
import FaceExportBuild
import FaceSearch
import Foundation
public import Logging
import ObjectStorage
public import PipelineFile

/// A checked pipeline turned into a running export: accounts and secrets, the embedded simulator if
/// asked, the lock, an interrupted commit finished, resume or cleanup, then the run itself.
public struct PipelineLauncher: Sendable {
    /// Command-line flags that win over the file.
    public struct Overrides: Sendable {
        /// The service root instead of the pipeline's endpoint.
        public var endpoint: String?
        /// A file of library ids instead of the pipeline's groups (one account only).
        public var groupsFile: String?
        /// The folder for every output instead of the pipeline's `output_dir`.
        public var outputDirectory: String?
        /// Export only this shard of the libraries.
        public var shard: Shard?
        /// Continue the run this pipeline's journal describes.
        public var resume = false
        /// Continue the interrupted run if there is one under the same settings, else start anew:
        /// for a scheduler's retry, which cannot tell which it is.
        public var resumeIfInterrupted = false

        /// Creates overrides; every one is off by default.
        public init(
            endpoint: String? = nil,
            groupsFile: String? = nil,
            outputDirectory: String? = nil,
            shard: Shard? = nil,
            resume: Bool = false,
            resumeIfInterrupted: Bool = false
        ) {
            self.endpoint = endpoint
            self.groupsFile = groupsFile
            self.outputDirectory = outputDirectory
            self.shard = shard
            self.resume = resume
            self.resumeIfInterrupted = resumeIfInterrupted
        }
    }

    /// The pipeline, as loaded from its file.
    public let definition: PipelineDefinition
    /// The pipeline file's path, for errors that point into it.
    public let file: String
    /// Flags that win over the file.
    public let overrides: Overrides
    /// Where the run logs; `run_id` and `account` are added to its metadata.
    public let logger: Logger
    /// Raised by the signal handlers; the run stops issuing requests and discards its outputs.
    public let stop: StopSignal
    /// Told the run as it starts, for a progress line. Default: nothing.
    public var onStart: @Sendable (ExportRun) -> Void = { _ in }
    /// The run's file operations. Default: carried out directly (a crash test stops at one).
    public var steps = FileSteps.direct
    /// The run's state in object storage (`state: s3://…`), once its lock is taken.
    var bucketState: BucketState?
    /// Bytes of an upload's part instead of `storage.part_size`, below S3's 5 MiB: for a crash test's
    /// small runs, against a test server that accepts such parts. Default nil.
    public var testPartSize: Int?

    /// Creates a launcher; nothing is read or called until ``launch()``.
    public init(
        definition: PipelineDefinition,
        file: String,
        overrides: Overrides = Overrides(),
        logger: Logger,
        stop: StopSignal = StopSignal()
    ) {
        self.definition = definition
        self.file = file
        self.overrides = overrides
        self.logger = logger
        self.stop = stop
    }

    /// Runs the pipeline to its end and returns the report; throws ``LaunchError`` (or a
    /// `PipelineFileError`, or the API's `FaceSearchError`) when it could not run at all.
    public func launch() async throws -> RunReport {
        try await self.withAccounts { accounts in try await self.export(accounts) }
    }

    /// Where the outputs go: a folder, or `s3://BUCKET/PREFIX`.
    var folder: String {
        var folder = self.overrides.outputDirectory ?? self.definition.outputDirectory
        while folder.count > 1 && folder.hasSuffix("/") && !folder.hasSuffix("://") { folder.removeLast() }
        return folder
    }

    /// Where the lock, the journal and the commit record go: `state:`, or the output folder; for a
    /// state in object storage, the private folder the run works in.
    var stateFolder: String { self.bucketState?.localFolder ?? self.definition.stateDirectory ?? self.folder }

    /// Where the state is, for messages.
    var stateLocation: String { self.bucketState?.location ?? self.stateFolder }

    /// The lock's and the journal's name: the pipeline's, per shard.
    var lockName: String {
        self.definition.name + (self.overrides.shard.map { "-shard-\($0)" } ?? "")
    }

    private func export(_ accounts: [ResolvedAccount]) async throws -> RunReport {
        if let state = self.definition.stateDirectory, state.hasPrefix("s3://"), !self.outputsInObjectStorage {
            throw LaunchError(
                "state: \(state) keeps the run's state beside outputs in object storage, but --out \(self.folder) "
                    + "is a local folder; give --out an s3:// folder of that bucket, or a local state:"
            )
        }
        if self.outputsInObjectStorage && self.steps.objectStore == nil {
            guard self.definition.stateDirectory != nil else {
                throw LaunchError(
                    "outputs in object storage (\(self.folder)) need a local folder for the run's journal and lock: "
                        + "add state: /var/lib/faceexport to \(self.file)"
                )
            }
            // Before anything else is called: the bucket, the keys and the policy.
            try self.checkObjectStore(try self.makeObjectStore(tolerance: Self.storageCheckTolerance))
            // Mid-run, a store that stops answering is ridden out as the API's outages are.
            let store = try self.makeObjectStore(tolerance: self.definition.outageTolerance)
            var launcher = self
            launcher.steps = self.steps.with(objectStore: store)
            guard let state = self.definition.stateDirectory, state.hasPrefix("s3://") else {
                return try await launcher.export(accounts)
            }
            return try await launcher.export(accounts, stateIn: state, store: store)
        }
        try self.checkShardedPaths()
        let now = Date()
        // Two runs of this pipeline (shard) on this output never overlap; the kernel frees the lock if we die.
        let lock = try self.takeLock(startedAt: now)
        defer { lock.release() }
        let journalPath = self.stateFolder + "/.faceexport/" + SafeFileName.make(self.lockName) + ".journal"
        try self.finishInterruptedCommit(journalPath: journalPath)
        let hashKey = try self.definition.transform.hashKey.map { source in
            try Secrets.hashKey(source, definition: self.definition, file: self.file)
        }
        var context = RunContext(runID: RunIdentity.makeRunID(now))
        context.date = RunIdentity.utcDate(now)
        context.startedAt = Int64((now.timeIntervalSince1970 * 1000).rounded())
        context.journalPath = journalPath
        context.fingerprint =
            RunFingerprint(
                definition: self.definition,
                folder: self.folder,
                shard: self.overrides.shard,
                accounts: accounts.map(\.description),
                hashKey: hashKey
            ).digest
        context.fileSteps = self.steps
        context.stateMirror = self.bucketState
        try self.continueOrClearInterruptedRun(journalPath: journalPath, context: &context)
        var logger = self.logger
        logger[metadataKey: "run_id"] = "\(context.runID)"
        let job = try self.makeJob(accounts, context: context, hashKey: hashKey, logger: logger)
        let run = job.makeRun(stop: self.stop, logger: logger)
        self.onStart(run)
        let report = await ExportJob.run(run)
        let over = !FileManager.default.fileExists(atPath: journalPath)
        if (context.resume != nil || report.outcome == .failed) && over {
            // The run is over for good: nothing of its id may stay behind, not even what an earlier
            // attempt of it left outside the sinks' own files (a manifest it was writing when it died).
            // A resumed run that failed before it took over the interrupted run's uploads (a tail
            // its checkpoint does not vouch for) leaves them open: they are aborted too.
            self.removeLeftovers(of: context.runID, interrupted: context.resume)
        } else if self.outputsInObjectStorage && over {
            // Committed, or failed for good: no upload is to be continued.
            self.removeTails()
        }
        return report
    }

    /// Runs with its state in object storage at `location`: the lock taken there, the journal and
    /// commit record fetched from there, and stored there as the run goes and as it ends.
    private func export(
        _ accounts: [ResolvedAccount],
        stateIn location: String,
        store: ObjectStorageClient
    ) async throws -> RunReport {
        let state = try BucketState(
            location: location,
            name: self.lockName,
            store: store,
            holder: Self.lockHolder(startedAt: Date()),
            logger: self.logger
        )
        do {
            try state.takeLock()
        } catch {
            state.removeLocalFolder()
            throw error
        }
        do {
            try state.fetch()
        } catch {
            state.release(storing: false)
            throw error
        }
        var launcher = self
        launcher.bucketState = state
        defer { state.release(storing: true) }
        return try await launcher.export(accounts)
    }

    /// Who holds a lock, for the message a second run gets: process, host, start.
    static func lockHolder(startedAt: Date) -> String {
        "pid \(getpid()) on \(ProcessInfo.processInfo.hostName), started \(RunIdentity.format(startedAt, "yyyy-MM-dd'T'HH:mm:ss'Z'"))"
    }

    /// The paths the pipeline's outputs and its manifest are written at.
    var outputPaths: [OutputPathTemplate] { self.definition.outputs.map(\.path) + [self.definition.manifest] }

    /// `text` with the run's state files named where they live: in the bucket for a state there.
    func namingState(_ text: String) -> String { self.bucketState?.naming(text) ?? text }

    /// With `--shard`, every output and the manifest must be per shard, or the shards overwrite each other.
    private func checkShardedPaths() throws(LaunchError) {
        guard let shard = self.overrides.shard else { return }
        if let path = self.outputPaths.first(where: { !$0.isPerShard }) {
            throw LaunchError(
                "with --shard \(shard.index)/\(shard.count) every output path and the manifest must contain {shard}, "
                    + "or the shards overwrite each other: '\(path.text)' does not"
            )
        }
    }

    private func takeLock(startedAt: Date) throws(LaunchError) -> RunLock {
        do {
            return try RunLock(
                folder: self.stateFolder,
                pipeline: self.lockName,
                note: Self.lockHolder(startedAt: startedAt)
            )
        } catch {
            switch error {
            case .held:
                throw LaunchError(error.description, status: .lockHeld)
            case .unavailable(let error):
                // Not another run: the folder itself cannot be written. Nothing was called.
                throw LaunchError(
                    "cannot write to the output folder: \(error); check output_dir (or --out) and its permissions"
                )
            }
        }
    }

    /// A run killed while renaming its files into place left its commit plan: finish it first.
    private func finishInterruptedCommit(journalPath: String) throws(LaunchError) {
        let plan: CommitPlan?
        do {
            plan = try CommitPlan.finishInterrupted(journalPath: journalPath, steps: self.steps)
        } catch {
            throw LaunchError("cannot finish the interrupted commit: \(error)", status: .failed)
        }
        guard let plan else { return }
        // That run is over: no upload of it is to be continued.
        if self.outputsInObjectStorage { self.removeTails() }
        let message =
            "run \(plan.runID) was interrupted while putting its outputs in place; that is now finished (\(plan.outcome))"
        self.logger.warning("\(message)")
        if self.overrides.resume || self.overrides.resumeIfInterrupted {
            throw LaunchError(message, status: plan.outcome == .complete ? .complete : .partial)
        }
    }

    /// With `--resume`, takes the interrupted run's identity and state into `context`; without it,
    /// removes what an interrupted run left, which the new run replaces.
    private func continueOrClearInterruptedRun(journalPath: String, context: inout RunContext) throws(LaunchError) {
        let previous = self.readInterruptedRun(journalPath: journalPath)
        if self.overrides.resumeIfInterrupted, let previous, previous.fingerprint != context.fingerprint {
            self.logger.warning(
                "the interrupted run was made under other settings; starting a new run",
                metadata: ["interrupted_run_id": "\(previous.runID)"]
            )
        }
        let resuming =
            self.overrides.resume
            || self.overrides.resumeIfInterrupted && previous.map { $0.fingerprint == context.fingerprint } == true
        guard resuming else {
            if let previous {
                self.removeLeftovers(of: previous.runID, interrupted: previous)
            } else if FileManager.default.fileExists(atPath: journalPath) {
                self.removeLeftoversOfAnUnnamedRun(journalPath: journalPath)
            }
            return
        }
        guard let previous else {
            if let damage = ResumeState.damage(path: journalPath).map(self.namingState) {
                throw LaunchError(
                    "cannot resume: \(damage), before it names its run; run without --resume to start over"
                )
            }
            throw LaunchError("nothing to resume: no interrupted run of '\(self.lockName)' in \(self.stateLocation)")
        }
        guard previous.fingerprint == context.fingerprint else {
            throw LaunchError(
                "cannot resume run \(previous.runID): the pipeline's outputs, groups, endpoint, transform, hash key or "
                    + "output folder changed since it was interrupted; run without --resume to start over"
            )
        }
        if self.outputsInObjectStorage {
            // The uploads the resumed run continues stay open, with the tails they continue from.
            self.abortUploads(of: previous, keeping: previous.continuedUploads)
            self.removeTails(keeping: previous.continuedTails)
        }
        context.runID = previous.runID
        context.date = previous.date
        if previous.startedAt > 0 { context.startedAt = previous.startedAt }
        context.resume = previous
        if let damage = previous.damage.map(self.namingState) {
            self.logger.warning(
                "\(damage); continuing from the last line before it (the pages after it are fetched again)"
            )
        }
    }

    /// Removes what an interrupted or failed run `runID` left: its temporary files beside the
    /// outputs and the state, and for outputs in object storage, the uploads the `interrupted`
    /// run's journal names (a failed run has aborted its own).
    private func removeLeftovers(of runID: String, interrupted: ResumeState?) {
        if self.outputsInObjectStorage {
            if let interrupted { self.abortUploads(of: interrupted) }
            self.removeTails()
        } else {
            LeftoverFiles.remove(of: runID, under: self.folder, steps: self.steps)
        }
        if self.stateFolder != self.folder {
            LeftoverFiles.remove(of: runID, under: self.stateFolder, steps: self.steps)
        }
    }

    /// Removes what an interrupted run whose journal names no run (damaged in its first line, or cut
    /// before it) left, found by path: the temporary files and open uploads that one of the
    /// pipeline's outputs makes for any run. (The lock is held: no other run of it writes them.)
    private func removeLeftoversOfAnUnnamedRun(journalPath: String) {
        let what = self.namingState(ResumeState.damage(path: journalPath) ?? "\(journalPath) names no run")
        self.logger.warning(
            "\(what); removing what any interrupted run of '\(self.lockName)' left in its outputs' places"
        )
        if self.outputsInObjectStorage {
            self.abortUploadsOfAnyRun()
            self.removeTails()
            return
        }
        let run = self.runValues(date: "", runID: "")
        let paths = self.outputPaths
        LeftoverFiles.removeOfAnyRun(under: self.folder, steps: self.steps) { relative in
            paths.contains { $0.matchesAnyRun(relative, of: run) }
        }
    }

    /// The run's parts: clients, outputs placed under the folder, the settings the file gives.
    private func makeJob(
        _ accounts: [ResolvedAccount],
        context: RunContext,
        hashKey: [UInt8]?,
        logger: Logger
    ) throws -> ExportJob {
        let shard = self.overrides.shard
        let jobs = try accounts.map { account in
            AccountJob(
                name: account.name,
                endpoint: account.endpoint!,
                credentials: account.credentials,
                transport: try self.transport(),
                groups: account.groups,
                rateLimit: Self.share(of: account.rateLimit, shards: shard?.count ?? 1),
                retryBudget: self.definition.retryBudget,
                repairsText: self.definition.onInvalidText == .repair,
                logger: logger
            )
        }
        var configuration = ExportConfiguration()
        configuration.pipeline = self.definition.name
        configuration.concurrency = self.definition.concurrency
        configuration.pageSize = self.definition.pageSize
        configuration.retry = self.definition.retry
        configuration.onChanged = self.definition.onChanged
        configuration.acceptsUnverified = self.definition.acceptsUnverified
        configuration.deadline = self.definition.deadline
        configuration.outageTolerance = self.definition.outageTolerance
        configuration.storePointInterval = self.definition.storage.checkpointInterval
        configuration.shard = shard
        configuration.transform = try self.makeTransform(
            hashKey: hashKey,
            runID: context.runID,
            startedAt: context.startedAt
        )
        var outputs: [OutputSink.Configuration] = []
        for output in self.definition.outputs {
            var placed = output
            placed.path = try self.underFolder(output.path)
            placed.changesPath = try output.changesPath.map { template throws(LaunchError) in
                try self.underFolder(template)
            }
            placed.steps = self.steps
            placed.partSize = self.testPartSize ?? self.definition.storage.partSize
            placed.partsInFlight = self.definition.storage.partsInFlight
            if self.outputsInObjectStorage { placed.tailFolder = self.tailFolder(runID: context.runID) }
            placed.keyValueMetadata = [
                "faceexport.exporter_version": ExporterVersion.full,
                "faceexport.transform_sha256": configuration.transform.digest,
            ]
            outputs.append(placed)
        }
        var job = ExportJob(configuration: configuration, context: context, accounts: jobs, outputs: outputs)
        job.configuration.manifestPath = try self.underFolder(self.definition.manifest).resolve(
            job.pathValues,
            account: nil,
            group: nil
        )
        return job
    }

    /// The pipeline's transform with the run's values; `hashKey` as ``Secrets/hashKey(_:definition:file:)`` reads it.
    func makeTransform(hashKey: [UInt8]?, runID: String, startedAt: Int64) throws(LaunchError) -> RecordTransform {
        do {
            return try RecordTransform(
                configuration: self.definition.transform,
                hashKey: hashKey,
                run: RecordTransform.RunValues(runID: runID, startedAt: startedAt)
            )
        } catch {
            throw LaunchError("\(self.file): \(error)")
        }
    }

    /// One shard's part of the account's pacing: rates and calls in flight divided by the shard count,
    /// so N shards together stay within what one run would use.
    public static func share(of rateLimit: RateLimitConfiguration, shards: Int) -> RateLimitConfiguration {
        guard shards > 1 else { return rateLimit }
        var share = rateLimit
        share.requestsPerSecond /= Double(shards)
        share.maxRequestsPerSecond /= Double(shards)
        share.minRequestsPerSecond = min(share.minRequestsPerSecond, share.requestsPerSecond)
        share.maxInFlight = max(1, rateLimit.maxInFlight / shards)
        return share
    }

    /// `template` placed under the output folder.
    private func underFolder(_ template: OutputPathTemplate) throws(LaunchError) -> OutputPathTemplate {
        do {
            return try OutputPathTemplate(self.folder + "/" + template.text)
        } catch {
            throw LaunchError("output folder '\(self.folder)': \(error)")
        }
    }
}
