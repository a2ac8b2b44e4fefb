import ExportPipeline
import ExportSinks
import FaceSearch
import Foundation
import Logging
import ObjectStorage
public import PipelineFile
import Transport

/// Outputs in object storage: `output_dir: s3://BUCKET/PREFIX`, reached as `storage:` says, with
/// keys found as the AWS tools find them.
extension PipelineLauncher {
    /// Seconds a call to object storage may take: a part of 16 MiB over a slow link takes a while.
    static let storageTimeout = 300.0
    /// Seconds the store may fail the first call, made before the API is called, before the run
    /// gives up: a store that is not there at the start is more likely misnamed than down.
    static let storageCheckTolerance = 30.0

    /// Whether the outputs go to object storage.
    var outputsInObjectStorage: Bool { self.folder.hasPrefix("s3://") }

    /// The bucket and the prefix (no leading or trailing slash) of an `s3://BUCKET/PREFIX` folder.
    var objectFolder: (bucket: String, prefix: String) {
        let rest = self.folder.dropFirst(5)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let prefix = parts.count > 1 ? parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "/")) : ""
        return (String(parts[0]), prefix)
    }

    /// A client of the outputs' bucket. No keys, or keys that cannot be read, are a configuration
    /// error (exit 4), in one line without any secret.
    func makeObjectStore(tolerance: Double) throws(LaunchError) -> ObjectStorageClient {
        let storage = self.definition.storage
        let environment = ProcessInfo.processInfo.environment
        let region =
            storage.region ?? environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        let endpointText = storage.endpoint ?? "https://s3.\(region).amazonaws.com"
        guard let endpoint = URL(string: endpointText) else {
            throw LaunchError("storage.endpoint '\(endpointText)' is not a URL")
        }
        let source: CredentialSource
        do {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
            source = try CredentialSource.find(environment: environment, home: home)
        } catch {
            throw LaunchError("\(error)")
        }
        var configuration = ObjectStorageClient.Configuration(endpoint: endpoint, bucket: self.objectFolder.bucket)
        configuration.region = region
        configuration.pathStyle = storage.pathStyle
        configuration.retry.tolerance = tolerance
        let transport = try self.serviceTransport(
            proxy: storage.proxy,
            caFile: storage.caFile,
            caOnly: storage.caOnly,
            timeout: Self.storageTimeout,
            section: "storage"
        )
        // The first retry of a call is worth a warning: a store failing for a while is ridden out,
        // but whoever reads the log at night should know it was.
        let logger = self.logger
        let onRetry: @Sendable (ObjectStorageError, Int, Double) -> Void = { error, tries, _ in
            guard tries == 1 else { return }
            logger.warning(
                "object storage failed a call; trying again for up to tolerance_seconds",
                metadata: ["error": "\(error)", "tolerance_seconds": "\(Int(tolerance))"]
            )
        }
        switch source {
        case .keys(let keys, _):
            return ObjectStorageClient(
                configuration: configuration,
                credentials: { keys },
                transport: transport,
                onRetry: onRetry
            )
        case .webIdentity(let role, let tokenFile, let session):
            guard let sts = WebIdentityCredentials.endpoint(region: region, environment: environment),
                let host = sts.host,
                sts.scheme == "https" || (sts.scheme == "http" && FaceSearchEndpoint.isLoopback(host: host))
            else {
                throw LaunchError(
                    "AWS_ENDPOINT_URL_STS must be an https URL (plain http only to this machine)"
                )
            }
            // Through the store's proxy and trust: STS is reached the way the bucket is.
            let identity = WebIdentityCredentials(
                roleARN: role,
                tokenFile: tokenFile,
                sessionName: session,
                endpoint: sts,
                transport: transport
            )
            return ObjectStorageClient(
                configuration: configuration,
                credentials: { () throws(ObjectStorageError) in try identity.current() },
                transport: transport,
                onRetry: onRetry
            )
        }
    }

    /// Calls the store once before the API is called: a bucket that is not there is a configuration
    /// error (exit 4); keys or a policy the store refuses, or a store that cannot be reached, fail
    /// the run (exit 3). Nothing is written.
    func checkObjectStore(_ store: ObjectStorageClient) throws(LaunchError) {
        do {
            _ = try store.listMultipartUploads(prefix: self.objectFolder.prefix)
        } catch {
            let what = "cannot use the output folder \(self.folder): \(error)"
            switch error.code {
            case _ where error.isWrongRegion:
                let region = error.bucketRegion ?? ""
                throw LaunchError(
                    "cannot use the output folder \(self.folder): the bucket is in region \(region); "
                        + "set storage.region: \(region) (\(error.code))"
                )
            case "NoSuchBucket": throw LaunchError(what + "; create the bucket or correct output_dir")
            case "TokenUnreadable": throw LaunchError(what + "; check AWS_WEB_IDENTITY_TOKEN_FILE")
            case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
                throw LaunchError(
                    what + "; check the keys and that the bucket policy allows s3:ListBucketMultipartUploads, "
                        + "s3:PutObject and s3:AbortMultipartUpload",
                    status: .failed
                )
            case "TLSFailure":
                throw LaunchError(
                    what + "; if the store's certificate comes from a private CA, name it in storage.tls.ca_file",
                    status: .failed
                )
            case "ProxyRefused": throw LaunchError(what + "; check storage.proxy", status: .failed)
            case "Unreachable":
                throw LaunchError(what + "; check storage.endpoint, storage.proxy and the network", status: .failed)
            default: throw LaunchError(what, status: .failed)
            }
        }
    }

    /// Checks, for `faceexport validate --check-storage`, that the object storage an `s3://`
    /// `output_dir` names can be used: one call to the store (the open uploads under the prefix),
    /// none to the API. Returns what was checked; throws as a run's own check would (exit 4 for a
    /// missing bucket or keys, 3 for keys or a policy the store refuses).
    public static func checkStorage(_ definition: PipelineDefinition, file: String) throws(LaunchError) -> String? {
        let launcher = PipelineLauncher(
            definition: definition,
            file: file,
            logger: Logger(label: "faceexport.validate")
        )
        guard launcher.outputsInObjectStorage else { return nil }
        try launcher.checkObjectStore(try launcher.makeObjectStore(tolerance: Self.storageCheckTolerance))
        return "\(launcher.folder): the bucket answers, and the keys may list its uploads"
    }

    /// Aborts the uploads an interrupted run left: none of them will be completed now. Those its
    /// journal names, and those the store lists under the output folder at a path one of the
    /// pipeline's outputs makes for that run: an upload begun just before the run was killed is on
    /// the store but not yet in the journal. (The lock is held: no other run of this pipeline writes
    /// these paths.)
    func abortUploads(of interrupted: ResumeState, keeping continued: Set<String> = []) {
        guard self.steps.objectStore != nil else { return }
        // Listed first: an upload the journal names that is no longer open (a failed resumed run
        // aborted it) is not aborted again.
        let open = self.openUploads()
        let openIDs = open.map { Set($0.map(\.uploadID)) }
        var aborted: Set<String> = continued
        // Looked up under their own keys until one is not there either: then the listing is the
        // store's whole truth (on AWS, one call, not one per library's file).
        var listingMayMiss = true
        for upload in interrupted.openUploads where !continued.contains(upload.uploadID) {
            if openIDs?.contains(upload.uploadID) == false {
                guard listingMayMiss, self.isListedUnderItsKey(upload) else {
                    listingMayMiss = false
                    continue
                }
            }
            self.steps.abortUpload(at: upload.object, uploadID: upload.uploadID)
            aborted.insert(upload.uploadID)
        }
        let run = self.runValues(date: interrupted.date, runID: interrupted.runID)
        self.abort(open ?? [], skipping: aborted) { path, template in template.matches(path, run) }
    }

    /// Aborts every open upload under the output folder at a path one of the pipeline's outputs
    /// makes for any run: what a run whose journal names no run (damaged in its first line) left.
    func abortUploadsOfAnyRun() {
        guard self.steps.objectStore != nil, let open = self.openUploads() else { return }
        let run = self.runValues(date: "", runID: "")
        self.abort(open, skipping: []) { path, template in template.matchesAnyRun(path, of: run) }
    }

    /// The uploads open under the output folder; nil, with a warning, when the store cannot list them.
    private func openUploads() -> [ObjectStorageClient.PendingUpload]? {
        guard let store = self.steps.objectStore else { return nil }
        do {
            return try store.openUploads(under: self.objectFolder.prefix)
        } catch {
            self.logger.warning(
                "cannot list the uploads an interrupted run may have left; a bucket lifecycle rule ends them",
                metadata: ["error": "\(error)"]
            )
            return nil
        }
    }

    /// Whether `upload`, missing from the folder's listing, is open when its own key is listed (a
    /// store that lists only by whole key, as MinIO does); true when the store cannot say.
    private func isListedUnderItsKey(_ upload: OpenUpload) -> Bool {
        let bucket = "s3://\(self.objectFolder.bucket)/"
        guard let store = self.steps.objectStore, upload.object.hasPrefix(bucket) else { return true }
        let key = String(upload.object.dropFirst(bucket.count))
        do {
            return try store.listMultipartUploads(prefix: key).contains { $0.uploadID == upload.uploadID }
        } catch {
            return true
        }
    }

    /// This pipeline's (shard's) values for a run of `date` and `runID`.
    func runValues(date: String, runID: String) -> OutputPathTemplate.RunValues {
        OutputPathTemplate.RunValues(
            date: date,
            runID: runID,
            pipeline: self.definition.name,
            shard: self.overrides.shard.map(\.description) ?? "all"
        )
    }

    /// Aborts the uploads of `open` but `skipping` whose path under the output folder one of the
    /// pipeline's output paths (or its manifest's) `matches`.
    private func abort(
        _ open: [ObjectStorageClient.PendingUpload],
        skipping: Set<String>,
        where matches: (String, OutputPathTemplate) -> Bool
    ) {
        let paths = self.outputPaths
        let bucket = "s3://\(self.objectFolder.bucket)/"
        let prefix = self.objectFolder.prefix.isEmpty ? "" : self.objectFolder.prefix + "/"
        for upload in open where !skipping.contains(upload.uploadID) && upload.key.hasPrefix(prefix) {
            let relative = String(upload.key.dropFirst(prefix.count))
            guard paths.contains(where: { matches(relative, $0) }) else { continue }
            self.steps.abortUpload(at: bucket + upload.key, uploadID: upload.uploadID)
        }
    }

    /// The folder (`s3://bucket/prefix/.faceexport/<pipeline>/`) of the tails of this pipeline's
    /// (shard's) runs: the bytes an upload's unfinished part held at a checkpoint.
    var tailRoot: String {
        let (bucket, prefix) = self.objectFolder
        return "s3://\(bucket)/\(prefix.isEmpty ? "" : prefix + "/").faceexport/\(SafeFileName.make(self.lockName))/"
    }

    /// The folder of run `runID`'s tails.
    func tailFolder(runID: String) -> String { self.tailRoot + runID + "/" }

    /// The tails stored under `folder`, as `s3://` paths; none when the store cannot list them
    /// (uploads are then sent again rather than continued).
    private func storedTails(under folder: String) -> Set<String>? {
        guard let store = self.steps.objectStore,
            let location = folder.dropFirst(5).split(separator: "/", maxSplits: 1).last
        else { return nil }
        do {
            let bucket = "s3://\(store.bucket)/"
            return Set(try store.listObjects(prefix: String(location)).map { bucket + $0.key })
        } catch {
            self.logger.warning(
                "cannot list the tails an interrupted run kept; its uploads are sent again",
                metadata: ["error": "\(error)"]
            )
            return nil
        }
    }

    /// The interrupted run's journal at `journalPath`: for outputs in object storage, an upload's
    /// checkpoint counts only while its tail is still stored.
    func readInterruptedRun(journalPath: String) -> ResumeState? {
        ResumeState.read(path: journalPath, outputs: self.definition.outputs.count) { runID in
            guard self.outputsInObjectStorage else { return nil }
            let folder = self.tailFolder(runID: runID)
            return (folder, self.storedTails(under: folder) ?? [])
        }
    }

    /// Removes the tails of this pipeline's runs but `keeping`: those a resumed run continues from.
    /// A tail left behind is a small object under `.faceexport/`; the next run removes it.
    func removeTails(keeping: Set<String> = []) {
        for tail in self.storedTails(under: self.tailRoot) ?? [] where !keeping.contains(tail) {
            self.steps.deleteObject(at: tail)
        }
    }
}
