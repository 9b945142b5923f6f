import NIOCore
import NIOSSL
import NIOTLS

/// The one place that touches TLS (swift-nio-ssl): it turns ``RedisConfiguration/TLS`` into a client
/// context with certificate and host-name verification always on, and names TLS failures as
/// ``RedisError/tls(_:)``.
struct RedisTLSContext: Sendable {
    let context: NIOSSLContext
    /// The SNI and the name checked against the certificate; `nil` checks the peer's IP address instead.
    let serverHostname: String?
    /// ``RedisConfiguration/TLS/serverName``, kept to name the server of another host (a primary found by
    /// Sentinel, a cluster node).
    let configuredName: String?

    /// Reads the CA bundle, client certificate and key (start-up, off the event loop).
    static func make(_ tls: RedisConfiguration.TLS, host: String) throws(RedisError) -> RedisTLSContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        configuration.minimumTLSVersion = .tlsv12
        if let caFile = tls.caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw .tls("cannot read CA file \(caFile): \(error)")
            }
        }
        switch (tls.certificateFile, tls.keyFile) {
        case (nil, nil):
            break
        case (let certificateFile?, let keyFile?):
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            } catch {
                throw .tls("cannot read client certificate \(certificateFile): \(error)")
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw .tls("cannot read client key \(keyFile): \(error)")
            }
        default:
            throw .tls("a client certificate needs both a certificate file and a key file")
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .tls("cannot set up TLS: \(error)")
        }
        return RedisTLSContext(context: context, serverHostname: nil, configuredName: tls.serverName).forHost(host)
    }

    /// The same context for a connection to `host`: the configured server name, else the host unless it
    /// is an IP address (then the certificate must carry that address).
    func forHost(_ host: String) -> RedisTLSContext {
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return RedisTLSContext(context: context, serverHostname: configuredName ?? (isAddress ? nil : host), configuredName: configuredName)
    }

    /// The handlers that go first in a new channel's pipeline: TLS, then the strict name check.
    func makeHandlers(eventLoop: any EventLoop) throws(RedisError) -> (NIOSSLClientHandler, RedisTLSNameCheck) {
        do {
            return (try NIOSSLClientHandler(context: context, serverHostname: serverHostname), RedisTLSNameCheck(expected: serverHostname, eventLoop: eventLoop))
        } catch {
            throw .tls("invalid server name \(serverHostname ?? "-"): \(error)")
        }
    }

    /// True when `certificate` carries `name` as a DNS subject alternative name (`*.example.com` matching one
    /// leftmost label), compared without case and without a trailing dot.
    static func certificate(_ certificate: NIOSSLCertificate, carries name: String) -> Bool {
        var wanted = name.lowercased()
        if wanted.hasSuffix(".") { wanted.removeLast() }
        for alternative in certificate._subjectAlternativeNames() where alternative.nameType == .dnsName {
            let dns = String(decoding: alternative.contents, as: UTF8.self).lowercased()
            if dns == wanted { return true }
            if dns.hasPrefix("*."), let dot = wanted.firstIndex(of: "."), dot != wanted.startIndex, wanted[dot...] == dns.dropFirst() {
                return true
            }
        }
        return false
    }

    /// A TLS failure seen in the pipeline, named for logs (`CERTIFICATE_VERIFY_FAILED`, a host name the
    /// certificate does not carry, an alert from a server that wanted a client certificate); `nil` when
    /// the error is not about TLS.
    static func failure(_ error: any Error) -> RedisError? {
        switch error {
        case let error as RedisError:
            return error
        case let error as NIOSSLExtraError:
            return .tls("\(error)")
        case NIOSSLError.uncleanShutdown:
            return .connectionLost("the server closed the TLS connection without close_notify")
        case let error as NIOSSLError:
            return .tls("handshake failed: \(error)")
        case let error as BoringSSLError:
            return .tls("\(error)")
        default:
            return nil
        }
    }
}

/// Checks the server's name after the TLS handshake, before anything (AUTH and its password included) is
/// written. swift-nio-ssl also accepts a certificate that carries the connected IP address whatever the name;
/// with a name to check (a DNS host or `WAITROOM_REDIS_TLS_SERVER_NAME`), the certificate must carry that name.
final class RedisTLSNameCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let expected: String?
    /// Succeeds once the handshake completed and the name matched; fails with a ``RedisError``.
    let verified: EventLoopPromise<Void>
    private var settled = false

    init(expected: String?, eventLoop: any EventLoop) {
        self.expected = expected
        verified = eventLoop.makePromise()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            check(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func check(_ context: ChannelHandlerContext) {
        guard let expected else { return settle(.success(())) }
        let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
        if let certificate, RedisTLSContext.certificate(certificate, carries: expected) {
            settle(.success(()))
        } else {
            let error = RedisError.tls("the server certificate does not carry the name \(expected)")
            settle(.failure(error))
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        settle(.failure(RedisTLSContext.failure(error) ?? .connectionLost("\(error)")))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(.failure(.connectionLost("connection closed during the TLS handshake")))
        context.fireChannelInactive()
    }

    /// A channel that never connected (refused: the server is gone) is torn down without `channelInactive`:
    /// the check must still be settled, or its promise leaks (a crash in debug builds).
    func handlerRemoved(context: ChannelHandlerContext) {
        settle(.failure(.connectionLost("connection closed before the TLS handshake completed")))
    }

    /// Fails the check (the handshake took too long); the caller closes the channel.
    func give(up error: RedisError) {
        settle(.failure(error))
    }

    private func settle(_ result: Result<Void, RedisError>) {
        guard !settled else { return }
        settled = true
        switch result {
        case .success: verified.succeed()
        case .failure(let error): verified.fail(error)
        }
    }
}
