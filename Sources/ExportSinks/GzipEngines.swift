import CIsal
import CLibdeflate
import CZlib

/// Compresses a byte stream into gzip members for ``GzipOutput``.
protocol GzipEngine: AnyObject {
    /// Compresses `input` into the open member; with `endMember`, writes the member's trailer too,
    /// so the next call starts a new member. Compressed bytes go to `emit` as they are produced.
    func compress(
        _ input: UnsafeRawBufferPointer,
        endMember: Bool,
        emit: (UnsafeRawBufferPointer) throws(SinkError) -> Void
    ) throws(SinkError)
}

/// Makes the engine `compression` names.
func makeGzipEngine(_ compression: GzipCompression) throws(SinkError) -> any GzipEngine {
    switch compression.engine {
    case .isal: try IsalGzipEngine(level: compression.level)
    case .libdeflate: try LibdeflateGzipEngine(level: compression.level)
    case .zlib: try ZlibGzipEngine(level: compression.level)
    }
}

/// The loop of a streaming compressor: `step` compresses into the whole of `output` and says how
/// many bytes it produced, whether input is left and whether the member ended; each step's output
/// goes to `emit` until the input is taken in (with `endMember`, until the member has ended).
private func drainStream(
    into output: UnsafeMutableRawBufferPointer,
    endMember: Bool,
    emit: (UnsafeRawBufferPointer) throws(SinkError) -> Void,
    step: (UnsafeMutableRawBufferPointer) throws(SinkError) -> (produced: Int, inputLeft: Bool, ended: Bool)
) throws(SinkError) {
    while true {
        let (produced, inputLeft, ended) = try step(output)
        if produced > 0 { try emit(UnsafeRawBufferPointer(rebasing: output[..<produced])) }
        // Output that filled the buffer may have more behind it, even with the input taken in.
        if endMember ? ended : !inputLeft && produced < output.count { return }
    }
}

/// zlib's deflate with a gzip wrapper, streaming.
final class ZlibGzipEngine: GzipEngine {
    private let stream: UnsafeMutablePointer<z_stream>
    private let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)

    init(level: Int) throws(SinkError) {
        self.stream = .allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        // windowBits 15 + 16 asks zlib for a gzip header and trailer instead of a zlib wrapper.
        let status = deflateInit2_(
            self.stream,
            Int32(level),
            Z_DEFLATED,
            15 + 16,
            8,
            Z_DEFAULT_STRATEGY,
            ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size)
        )
        guard status == Z_OK else {
            self.stream.deallocate()
            self.output.deallocate()
            throw .compression("zlib's deflateInit2 returned \(status)")
        }
    }

    deinit {
        deflateEnd(self.stream)
        self.stream.deallocate()
        self.output.deallocate()
    }

    func compress(
        _ input: UnsafeRawBufferPointer,
        endMember: Bool,
        emit: (UnsafeRawBufferPointer) throws(SinkError) -> Void
    ) throws(SinkError) {
        let flush = endMember ? Z_FINISH : Z_NO_FLUSH
        // zlib reads next_in only during the calls below, while `input` is valid.
        self.stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self)
        )
        self.stream.pointee.avail_in = UInt32(input.count)
        let stream = self.stream
        try drainStream(into: self.output, endMember: endMember, emit: emit) { output throws(SinkError) in
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(output.count)
            let status = deflate(stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw .compression("zlib's deflate returned \(status)")
            }
            return (output.count - Int(stream.pointee.avail_out), stream.pointee.avail_in > 0, status == Z_STREAM_END)
        }
        self.stream.pointee.next_in = nil
        if endMember {
            guard deflateReset(self.stream) == Z_OK else { throw .compression("zlib's deflateReset failed") }
        }
    }
}

/// ISA-L's igzip with a gzip wrapper, streaming.
final class IsalGzipEngine: GzipEngine {
    private let stream: UnsafeMutablePointer<isal_zstream>
    private let levelBuffer: UnsafeMutableRawBufferPointer
    private let level: UInt32
    private let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)

    init(level: Int) throws(SinkError) {
        self.stream = .allocate(capacity: 1)
        self.stream.initialize(to: isal_zstream())
        self.levelBuffer = .allocate(
            byteCount: Int(faceexport_isal_level_buffer_size(UInt32(level))),
            alignment: 16
        )
        self.level = UInt32(level)
        self.start()
    }

    /// Starts a member: the stream initialised, at the level, with its buffer and the gzip wrapper.
    private func start() {
        isal_deflate_init(self.stream)
        self.stream.pointee.level = self.level
        self.stream.pointee.level_buf = self.levelBuffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        self.stream.pointee.level_buf_size = UInt32(self.levelBuffer.count)
        self.stream.pointee.gzip_flag = UInt16(IGZIP_GZIP)
        self.stream.pointee.flush = UInt16(NO_FLUSH)
    }

    deinit {
        self.stream.deallocate()
        self.levelBuffer.deallocate()
        self.output.deallocate()
    }

    func compress(
        _ input: UnsafeRawBufferPointer,
        endMember: Bool,
        emit: (UnsafeRawBufferPointer) throws(SinkError) -> Void
    ) throws(SinkError) {
        // ISA-L reads next_in only during the calls below, while `input` is valid.
        self.stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        )
        self.stream.pointee.avail_in = UInt32(input.count)
        self.stream.pointee.end_of_stream = endMember ? 1 : 0
        let stream = self.stream
        try drainStream(into: self.output, endMember: endMember, emit: emit) { output throws(SinkError) in
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(output.count)
            let status = isal_deflate(stream)
            guard status == COMP_OK else { throw .compression("ISA-L's isal_deflate returned \(status)") }
            return (
                output.count - Int(stream.pointee.avail_out), stream.pointee.avail_in > 0,
                faceexport_isal_member_ended(stream) != 0
            )
        }
        self.stream.pointee.next_in = nil
        // A fresh stream for the next member: in libisal 2.30, isal_deflate_reset at levels 1 to 3
        // starts the next member without its gzip header (level 0 is unaffected).
        if endMember { self.start() }
    }
}

/// libdeflate, which compresses whole buffers only: input is gathered and written as one member
/// when the member ends, or as a member of its own every 1 MiB (readers see one stream either way).
final class LibdeflateGzipEngine: GzipEngine {
    private let compressor: OpaquePointer
    private var pending: [UInt8] = []
    private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private static let memberSize = 1 << 20

    init(level: Int) throws(SinkError) {
        guard let compressor = libdeflate_alloc_compressor(Int32(level)) else {
            throw .compression("libdeflate could not make a compressor at level \(level)")
        }
        self.compressor = compressor
        self.pending.reserveCapacity(Self.memberSize + (1 << 16))
    }

    deinit {
        libdeflate_free_compressor(self.compressor)
        self.output.deallocate()
    }

    func compress(
        _ input: UnsafeRawBufferPointer,
        endMember: Bool,
        emit: (UnsafeRawBufferPointer) throws(SinkError) -> Void
    ) throws(SinkError) {
        self.pending.append(contentsOf: input)
        if endMember || self.pending.count >= Self.memberSize { try self.writeMember(emit) }
    }

    private func writeMember(_ emit: (UnsafeRawBufferPointer) throws(SinkError) -> Void) throws(SinkError) {
        let bound = libdeflate_gzip_compress_bound(self.compressor, self.pending.count)
        if self.output.count < bound {
            self.output.deallocate()
            self.output = .allocate(byteCount: bound, alignment: 16)
        }
        let output = self.output
        let size = self.pending.withUnsafeBytes { input in
            libdeflate_gzip_compress(self.compressor, input.baseAddress, input.count, output.baseAddress, output.count)
        }
        guard size > 0 else { throw .compression("libdeflate could not compress \(self.pending.count) bytes") }
        self.pending.removeAll(keepingCapacity: true)
        try emit(UnsafeRawBufferPointer(rebasing: output[..<size]))
    }
}
