import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// After HTTP decoding: stamps the peer address on each request head, tells the read deadline when a
/// request is complete, and gives JSON bodies to the empty error responses Hummingbird writes itself
/// (a request it cannot parse gets `400` with `Content-Length: 0`).
final class RequestEdgeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var peer: String?
    private var fillingErrorBody: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            if peer == nil { peer = context.channel.remoteAddress?.ipAddress ?? "" }
            head.headerFields[ConnectionGuard.peerHeader] = nil
            if let peer, !peer.isEmpty { head.headerFields[ConnectionGuard.peerHeader] = peer }
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .end:
            context.triggerUserOutboundEvent(RequestReadComplete(), promise: nil)
            context.fireChannelRead(data)
        case .body:
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 400 && head.headerFields[.contentLength] == "0":
            let body = ErrorBody.json(status: head.status)
            head.headerFields[.contentLength] = String(body.utf8.count)
            head.headerFields[.contentType] = "application/json; charset=utf-8"
            head.headerFields[.xContentTypeOptions] = "nosniff"
            fillingErrorBody = context.channel.allocator.buffer(string: body)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end(let trailers):
            if let body = fillingErrorBody {
                fillingErrorBody = nil
                context.write(wrapOutboundOut(.body(body)), promise: nil)
            }
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
            context.triggerUserOutboundEvent(ResponseWritten(), promise: nil)
        default:
            context.write(data, promise: promise)
        }
    }
}
