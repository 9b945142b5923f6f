import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// The waiting page, `/wait/{room}/{language}`: the shop's page in a language, built ahead of the requests
/// (``WaitPageCache``) — the same bytes for every shopper, `public` for a shared cache, no cookie. Its
/// script joins and polls the public API. `/wait/{room}` answers with the room's own language when it has
/// one, else redirects to the best language of `Accept-Language` (the language lives in the path, so a
/// shared cache needs no `Vary` on the page).
///
/// Without JavaScript (`?js=0`, where the page's noscript refresh leads), the server joins and polls for
/// the shopper through the same API handlers — the same ticket rules and join checks — and renders the
/// answer into the room's prepared template; the page refreshes itself after `pollAfterMs`.
extension PublicRoutes {
    func addPages(to router: Router<BasicRequestContext>) {
        router.get("/wait/:room") { request, context in try await self.waitPage(request, context) }
        router.get("/wait/:room/:lang") { request, context in try await self.waitPage(request, context) }
        // "Join the line again" without JavaScript: a new place at the back, then the page.
        router.post("/wait/:room") { request, context in try await self.joinAgainForm(request, context) }
        router.post("/wait/:room/:lang") { request, context in try await self.joinAgainForm(request, context) }
    }

    /// How long a browser keeps `/wait/{room}`'s redirect to its language (private: it follows the
    /// shopper's `Accept-Language`).
    static let languageRedirectMaxAge = 300

    func waitPage(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let cache = pages.waitCache
        let pathLanguage = context.parameters.get("lang").map { String($0) }
        let noScript = request.uri.queryParameters.get("js") == "0"
        if let pathLanguage, !PagePresentation.languages.contains(pathLanguage), let name = context.parameters.get("room"), RoomName.isValid(name) {
            // A language the page does not have: the room's own address picks one.
            return Self.redirect(to: "/wait/\(name)", query: request.uri.query, cacheControl: "public, max-age=\(Self.languageRedirectMaxAge)")
        }
        guard let (room, entry) = try? await self.room(context) else {
            let language = pathLanguage ?? PagePresentation.language(acceptLanguage: request.headers[.acceptLanguage])
            let missing = cache.missing(language)
            var headers = missing.headers
            if pathLanguage == nil {
                // Chosen by the shopper's header: for this browser only.
                headers[.cacheControl] = "private, max-age=\(WaitPageCache.missingMaxAgeSeconds)"
                headers[.vary] = "Accept-Language"
            }
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: missing.body))
        }
        let settings = entry.snapshot.settings
        let language: String
        if let fixed = settings.language, PagePresentation.languages.contains(fixed) {
            language = fixed
        } else if let pathLanguage {
            language = pathLanguage
        } else if !noScript {
            let chosen = PagePresentation.language(acceptLanguage: request.headers[.acceptLanguage])
            var response = Self.redirect(
                to: WaitPage.path(room: room, language: chosen), query: request.uri.query, cacheControl: "private, max-age=\(Self.languageRedirectMaxAge)"
            )
            response.headers[.vary] = "Accept-Language"
            return response
        } else {
            language = PagePresentation.language(acceptLanguage: request.headers[.acceptLanguage])
        }
        let built = cache.room(room, settings: settings, language: language)
        let pass = request.uri.queryParameters.get("pass").map { String($0) }
        guard noScript else {
            guard let pass else {
                if let tags = request.headers[.ifNoneMatch], tags.contains(built.etag) {
                    return Response(status: .notModified, headers: built.headers)
                }
                return Response(status: .ok, headers: built.headers, body: .init(byteBuffer: built.body))
            }
            // A join pass in the URL travels on to the page without JavaScript: this shopper's own page.
            let html = built.joining.render(["refresh": cache.page.refreshTag(built.brand, seconds: 0, pass: pass, rejoined: "")])
            return Response(status: .ok, headers: built.privateHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        return try await noScriptPage(request, context, room: room, entry: entry, built: built, pass: pass)
    }

    /// The page without JavaScript: the join or the poll a script would make, its answer rendered.
    private func noScriptPage(
        _ request: Request, _ context: BasicRequestContext, room: String, entry: RoomCache.Entry, built: WaitPageCache.Room, pass: String?
    ) async throws -> Response {
        let page = pages.wait
        let brand = built.brand
        func respond(_ view: WaitPage.View) -> Response {
            Response(status: .ok, headers: built.privateHeaders, body: .init(byteBuffer: ByteBuffer(string: page.render(built.prepared, brand, view, pass: pass))))
        }
        var request = request
        // A join pass from the shop's link travels as the header the script would send.
        if let pass {
            var head = request.head
            head.headerFields[JoinPassKeys.header] = pass
            request = Request(head: head, body: request.body)
        }
        let nowMs = Self.nowMs()
        let presented = presentedTicket(request, room: room)
        let held = presented.flatMap { try? verifiedTicket($0, room: room, epoch: entry.snapshot.epoch, nowMs: nowMs) }
        let answer: Response
        do {
            answer = try await held == nil ? join(request, context) : status(request, context)
        } catch let error as APIError {
            return respond(page.view(error, brand: brand))
        }
        let body = try await Self.collect(answer)
        guard answer.status == .ok, let status = try? JSONDecoder().decode(WaitPage.Status.self, from: body) else {
            return respond(page.view(APIError(answer.status, "error", ""), brand: brand))
        }
        let ticketID = held?.id ?? status.ticket.flatMap { try? tickets.open($0) }.flatMap { QueueTicket(payload: $0) }?.id ?? ""
        let queueID = PagePresentation.queueID(ticketID: ticketID)
        var view = page.view(status, brand: brand, queueID: queueID, now: Date())
        view.againToken = ticketID.isEmpty ? "" : againFormToken(ticketID: ticketID)
        // A new place at the back, said as the script says it: after "join again" (its redirect names the
        // new place), or when the ticket the browser held no longer counts and the page joined afresh.
        let replaced = presented != nil && held == nil && status.ticket != nil
        let named = request.uri.queryParameters.get("rejoined").map { String($0) }
        if !queueID.isEmpty, replaced || named == queueID {
            page.sayRejoined(&view, queueID: queueID, language: brand.language)
        }
        var response = respond(view)
        if let cookie = answer.headers[.setCookie] { response.headers[.setCookie] = cookie }
        return response
    }

    /// A redirect that keeps the request's query (a join pass, `js=0`).
    static func redirect(to path: String, query: String?, cacheControl: String) -> Response {
        let location = path + (query.map { $0.isEmpty ? "" : "?" + $0 } ?? "")
        return Response(status: .found, headers: [.location: location, .cacheControl: cacheControl, .contentLength: "0"])
    }

    /// The form behind "Join the line again": only from this site's own page (a forged cross-site post
    /// would cost the shopper their place; see ``JoinAgainFormCheck``), then back to the page with the new
    /// ticket's cookie, and the new place's id so the page says it is a new place at the back.
    func joinAgainForm(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let room = try RequestReader.roomName(context)
        let body = try await reader.body(request)
        let ticketID = presentedTicket(request, room: room).flatMap { try? tickets.open($0) }.flatMap { QueueTicket(payload: $0) }?.id
        let check = JoinAgainFormCheck(
            secFetchSite: request.headers[.secFetchSite], origin: request.headers[.origin], referer: request.headers[.referer],
            host: request.head.authority, token: JoinAgainFormCheck.formField("token", in: String(buffer: body)),
            expectedToken: ticketID.map(againFormToken)
        )
        guard check.allows else {
            throw APIError(.forbidden, "cross_site", "this form only works from the waiting page")
        }
        let language = context.parameters.get("lang").map { String($0) }.flatMap { PagePresentation.languages.contains($0) ? $0 : nil }
        var location = (language.map { WaitPage.path(room: room, language: $0) } ?? "/wait/\(room)") + "?js=0"
        var headers: HTTPFields = [.cacheControl: "no-store"]
        if request.uri.queryParameters.get("again") == "1" {
            // The API's own "join again": a new place at the back whatever ticket the cookie holds.
            var head = request.head
            let body = ByteBuffer(string: #"{"fresh":true}"#)
            head.headerFields[.contentType] = "application/json"
            head.headerFields[.contentLength] = String(body.readableBytes)
            head.headerFields[.transferEncoding] = nil
            if let answer = try? await join(Request(head: head, body: RequestBody(buffer: body)), context), let cookie = answer.headers[.setCookie] {
                headers[.setCookie] = cookie
                if let id = Self.cookieValue(cookie).flatMap({ try? tickets.open($0) }).flatMap({ QueueTicket(payload: $0) })?.id {
                    location += "&rejoined=" + PagePresentation.queueID(ticketID: id)
                }
            }
        }
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    /// The value of a `Set-Cookie` line (`name=value; attributes`).
    static func cookieValue(_ setCookie: String) -> String? {
        guard let equals = setCookie.firstIndex(of: "=") else { return nil }
        return String(setCookie[setCookie.index(after: equals)...].prefix { $0 != ";" })
    }

    /// The "join again" form's token on a page that holds the ticket: the MAC of the ticket's id under the
    /// ticket secret (a prefix of its own keeps it from passing for any other signed value). A cross-site
    /// page cannot read it, and a cross-site post does not carry the ticket cookie (SameSite=Lax) anyway.
    func againFormToken(ticketID: String) -> String {
        let signed = tickets.sign("join-again-form." + ticketID)
        return String(signed[signed.index(after: signed.lastIndex(of: ".")!)...])
    }

    /// The body an API handler answered with.
    static func collect(_ response: Response) async throws -> Data {
        final class Sink: ResponseBodyWriter {
            var data = Data()
            func write(_ buffer: ByteBuffer) async throws { data.append(contentsOf: buffer.readableBytesView) }
            func finish(_ trailingHeaders: HTTPFields?) async throws {}
        }
        let sink = Sink()
        try await response.body.write(sink)
        return sink.data
    }
}

/// Whether a "join again" form post comes from the waiting page itself. The browser's word wins when it
/// gives one (`Sec-Fetch-Site`, which no page can set); otherwise the form's token tied to the shopper's
/// ticket, or an `Origin` (else a `Referer`) naming this host. The page is served with `no-referrer`, so
/// its own posts carry `Origin: null` and no `Referer`: a browser without `Sec-Fetch-Site` gets in by
/// the token, and `null` alone is never enough.
struct JoinAgainFormCheck {
    var secFetchSite: String?
    var origin: String?
    var referer: String?
    /// The request's `Host`.
    var host: String?
    var token: String?
    /// The token of the ticket the request carries (nil without one).
    var expectedToken: String?

    var allows: Bool {
        if let site = secFetchSite { return site == "same-origin" || site == "none" }
        if let token, let expectedToken, SecretComparison.equals(token, expectedToken) { return true }
        if let origin { return origin != "null" && Self.sameHost(origin, host) }
        if let referer { return Self.sameHost(referer, host) }
        return false
    }

    /// Whether an absolute URL's authority (host and port) is the request's `Host`.
    static func sameHost(_ url: String, _ host: String?) -> Bool {
        guard let host, !host.isEmpty, let components = URLComponents(string: url), let urlHost = components.host, !urlHost.isEmpty,
            components.user == nil, components.password == nil
        else { return false }
        let authority = urlHost + (components.port.map { ":\($0)" } ?? "")
        return authority.lowercased() == host.lowercased()
    }

    /// One field of an `application/x-www-form-urlencoded` body.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
