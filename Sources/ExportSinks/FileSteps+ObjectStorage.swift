import Foundation
import ObjectStorage

/// An object's place: its bucket and key, from an `s3://bucket/key` path.
struct ObjectLocation: Sendable, Hashable {
    var bucket: String
    var key: String

    /// The location an `s3://bucket/key` path names; nil for any other path.
    init?(path: String) {
        guard path.hasPrefix("s3://") else { return nil }
        let rest = path.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex, rest.index(after: slash) != rest.endIndex
        else { return nil }
        self.bucket = String(rest[..<slash])
        self.key = String(rest[rest.index(after: slash)...])
    }

    var path: String { "s3://\(self.bucket)/\(self.key)" }
}

/// Object storage's calls as steps: a crash test can stop a run before any of them.
extension FileSteps {
    /// The store for `location`, which must be its bucket.
    private func store(for location: ObjectLocation) throws(SinkError) -> ObjectStorageClient {
        guard let store = self.objectStore, store.bucket == location.bucket else {
            throw .storage("cannot write \(location.path): no object storage is set up for bucket \(location.bucket)")
        }
        return store
    }

    /// Runs `call` as the step `kind`; a storage failure becomes the sink's error.
    private func perform<Result>(
        _ kind: Kind,
        _ location: ObjectLocation,
        _ call: (ObjectStorageClient) throws(ObjectStorageError) -> Result
    ) throws(SinkError) -> Result {
        let store = try self.store(for: location)
        self.step(kind, path: location.path)
        do {
            return try call(store)
        } catch {
            throw .storage(error.description)
        }
    }

    /// Starts a multipart upload to `location`; returns its id.
    func startUpload(_ location: ObjectLocation) throws(SinkError) -> String {
        try self.perform(.startUpload, location) { (store) throws(ObjectStorageError) in
            try store.createMultipartUpload(location.key)
        }
    }

    /// Sends part `number` of an upload; returns its ETag.
    func uploadPart(
        _ location: ObjectLocation,
        uploadID: String,
        number: Int,
        body: UnsafeRawBufferPointer
    ) throws(SinkError) -> String {
        // The part is sent before this returns: the bytes are lent, not copied.
        let data =
            body.baseAddress.map {
                Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0), count: body.count, deallocator: .none)
            } ?? Data()
        return try self.perform(.uploadPart, location) { (store) throws(ObjectStorageError) in
            try store.uploadPart(location.key, uploadID: uploadID, number: number, body: data)
        }
    }

    /// Completes an upload from its parts' ETags, in order: the object appears whole. An upload the
    /// store no longer knows counts as completed when the object is there with `bytes` bytes: a
    /// commit finished again after a crash completed it the first time.
    func completeUpload(
        _ location: ObjectLocation,
        uploadID: String,
        parts: [String],
        bytes: Int
    ) throws(SinkError) {
        try self.perform(.completeUpload, location) { (store) throws(ObjectStorageError) in
            do throws(ObjectStorageError) {
                try store.completeMultipartUpload(
                    location.key,
                    uploadID: uploadID,
                    parts: parts.enumerated().map { (number: $0.offset + 1, etag: $0.element) }
                )
            } catch  where error.code == "NoSuchUpload" {
                guard try store.objectSize(location.key) == bytes else { throw error }
            }
        }
    }

    /// Abandons an upload, so that its parts are not billed for ever; false when the store could
    /// not be told (the upload then stays open until a bucket lifecycle rule or a later run ends it).
    @discardableResult
    func abortUpload(_ location: ObjectLocation, uploadID: String) -> Bool {
        do {
            try self.perform(.abortUpload, location) { (store) throws(ObjectStorageError) in
                try store.abortMultipartUpload(location.key, uploadID: uploadID)
            }
            return true
        } catch {
            return false
        }
    }

    /// Stores a small object in one call.
    public func putObject(_ bytes: [UInt8], at path: String) throws(SinkError) {
        let result = bytes.withUnsafeBytes { body in
            Result { () throws(SinkError) in try self.putObject(body, at: path) }
        }
        try result.get()
    }

    /// Stores `body` as the object at `path` in one call; the bytes are lent, not copied.
    func putObject(_ body: UnsafeRawBufferPointer, at path: String) throws(SinkError) {
        guard let location = ObjectLocation(path: path) else {
            throw .storage("cannot write \(path): it is not an s3:// path")
        }
        let data =
            body.baseAddress.map {
                Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: $0), count: body.count, deallocator: .none)
            } ?? Data()
        try self.perform(.putObject, location) { (store) throws(ObjectStorageError) in
            _ = try store.putObject(location.key, body: data)
        }
    }

    /// The object at `path` (`s3://bucket/key`), read in ranges, so that no answer outgrows the
    /// transport's limit.
    func readObject(at path: String) throws(SinkError) -> [UInt8] {
        guard let location = ObjectLocation(path: path) else {
            throw .storage("cannot read \(path): it is not an s3:// path")
        }
        let content = try self.perform(.getObject, location) { (store) throws(ObjectStorageError) in
            try store.getWholeObject(location.key)
        }
        guard let content else { throw .storage("cannot read \(path): the object is not there") }
        return [UInt8](content)
    }

    /// Removes the object at `path`; false when the store could not be told.
    @discardableResult
    public func deleteObject(at path: String) -> Bool {
        guard let location = ObjectLocation(path: path) else { return false }
        do {
            try self.perform(.deleteObject, location) { (store) throws(ObjectStorageError) in
                try store.deleteObject(location.key)
            }
            return true
        } catch {
            return false
        }
    }

    /// Abandons the upload `uploadID` of the object at `path` (`s3://bucket/key`); false when the
    /// store could not be told.
    @discardableResult
    public func abortUpload(at path: String, uploadID: String) -> Bool {
        guard let location = ObjectLocation(path: path) else { return false }
        return self.abortUpload(location, uploadID: uploadID)
    }
}
