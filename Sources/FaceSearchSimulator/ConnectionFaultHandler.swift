import FaceSearchSimulation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

#if canImport(Glibc)
import Glibc
#endif

/// Commits the faults only a connection can show, for answers the API marked: a reset instead of
/// an answer, or a body cut in half after a full `Content-Length`.
///
/// It sits in each connection's pipeline after the HTTP codec, so it sees whole response parts.
final class ConnectionFaultHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The header the API's answer carries to ask for a fault; never sent to the client.
    static let marker = HTTPField.Name("x-faceexport-fault")!

    private var fault: SimulatedResponse.ConnectionFault?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(var head):
            self.fault = head.headerFields[Self.marker].flatMap(SimulatedResponse.ConnectionFault.init(rawValue:))
            head.headerFields[Self.marker] = nil
            if self.fault == .reset {
                // SO_LINGER 0 makes close() send RST: the client sees a reset, not an orderly close.
                _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                context.close(promise: nil)
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            context.write(self.wrapOutboundOut(.head(head)), promise: promise)
        case .body(let buffer) where self.fault == .truncate:
            let half = buffer.getSlice(at: buffer.readerIndex, length: buffer.readableBytes / 2) ?? buffer
            context.writeAndFlush(self.wrapOutboundOut(.body(half)), promise: promise)
        case .end where self.fault == .truncate:
            self.fault = nil
            context.close(promise: nil)
            promise?.fail(ChannelError.ioOnClosedChannel)
        case .body, .end:
            if self.fault == .reset {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            context.write(data, promise: promise)
        }
    }
}
