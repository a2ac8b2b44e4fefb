/// Where an encoder's bytes go: the file itself, or a compressor in front of it.
protocol ByteOutput: AnyObject {
    /// Accepts bytes; may buffer them.
    func write(_ bytes: ArraySlice<UInt8>) throws(SinkError)
    /// Writes whatever is buffered, compresses the tail, and syncs and renames the file into place.
    func commit() throws(SinkError)
    /// Drops the output without touching the destination.
    func discard()
    /// Bytes that reached the file so far.
    var bytesOnDisk: Int { get }
}

extension AtomicFile: ByteOutput {
    var bytesOnDisk: Int { self.bytesWritten }
}

/// Opens the output for `path`: gzip when it ends in `.gz`.
func makeByteOutput(path: String, runID: String, compressionLevel: Int32) throws(SinkError) -> any ByteOutput {
    let file = try AtomicFile(path: path, runID: runID)
    return path.hasSuffix(".gz") ? try GzipOutput(file: file, level: compressionLevel) : file
}
