import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomTokens

/// The waiting page, `/wait/{room}`: the shop's page in the shopper's language. With JavaScript, the page's
/// script joins and polls the public API. Without it (`?js=0`, where the page's noscript refresh leads),
/// the server joins and polls for the shopper through the same API handlers — the same ticket rules and
/// join checks — and renders the answer; the page refreshes itself after `pollAfterMs`.
extension PublicRoutes {
    func addPages(to router: Router<BasicRequestContext>) {
        router.get("/wait/:room") { request, context in try await self.waitPage(request, context) }
        // "Join the line again" without JavaScript: a new place at the back, then the page.
        router.post("/wait/:room") { request, context in try await self.joinAgainForm(request, context) }
    }

    func waitPage(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let accepted = request.headers[.acceptLanguage]
        guard let (room, entry) = try? await self.room(context) else {
            let language = PagePresentation.language(acceptLanguage: accepted)
            let brand = WaitPage.Brand(room: "", settings: nil, language: language)
            let page = pages.wait
            let html = page.render(brand, page.notFound(language), title: page.text("not_found_title", language))
            return Responses.html(status: .notFound, html, scriptHashes: page.template.scriptHashes)
        }
        let settings = entry.snapshot.settings
        var brand = WaitPage.Brand(room: room, settings: settings, language: PagePresentation.language(acceptLanguage: accepted, fixed: settings.language))
        brand.pass = request.uri.queryParameters.get("pass").map { String($0) }
        let page = pages.wait
        guard request.uri.queryParameters.get("js") == "0" else {
            return pageResponse(page.render(brand, page.joining(brand.language)), brand: brand)
        }
        var request = request
        // A join pass from the shop's link travels as the header the script would send.
        if let pass = brand.pass {
            var head = request.head
            head.headerFields[JoinPassKeys.header] = pass
            request = Request(head: head, body: request.body)
        }
        let nowMs = Self.nowMs()
        let held = presentedTicket(request, room: room).flatMap { try? verifiedTicket($0, room: room, epoch: entry.snapshot.epoch, nowMs: nowMs) }
        let answer: Response
        do {
            answer = try await held == nil ? join(request, context) : status(request, context)
        } catch let error as APIError {
            return pageResponse(page.render(brand, page.view(error, brand: brand)), brand: brand)
        }
        let body = try await Self.collect(answer)
        guard answer.status == .ok, let status = try? JSONDecoder().decode(WaitPage.Status.self, from: body) else {
            return pageResponse(page.render(brand, page.view(APIError(answer.status, "error", ""), brand: brand)), brand: brand)
        }
        let ticketID = held?.id ?? status.ticket.flatMap { try? tickets.open($0) }.flatMap { QueueTicket(payload: $0) }?.id ?? ""
        var view = page.view(status, brand: brand, queueID: PagePresentation.queueID(ticketID: ticketID), now: Date())
        view.againToken = ticketID.isEmpty ? "" : againFormToken(ticketID: ticketID)
        var response = pageResponse(page.render(brand, view), brand: brand)
        if let cookie = answer.headers[.setCookie] { response.headers[.setCookie] = cookie }
        return response
    }

    /// The form behind "Join the line again": only from this site's own page (a forged cross-site post
    /// would cost the shopper their place; see ``JoinAgainFormCheck``), then back to the page with the new
    /// ticket's cookie.
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
        var headers: HTTPFields = [.location: "/wait/\(room)?js=0", .cacheControl: "no-store"]
        if request.uri.queryParameters.get("again") == "1" {
            // The API's own "join again": a new place at the back whatever ticket the cookie holds.
            var head = request.head
            let body = ByteBuffer(string: #"{"fresh":true}"#)
            head.headerFields[.contentType] = "application/json"
            head.headerFields[.contentLength] = String(body.readableBytes)
            head.headerFields[.transferEncoding] = nil
            if let answer = try? await join(Request(head: head, body: RequestBody(buffer: body)), context), let cookie = answer.headers[.setCookie] {
                headers[.setCookie] = cookie
            }
        }
        return Response(status: .seeOther, headers: headers)
    }

    /// The "join again" form's token on a page that holds the ticket: the MAC of the ticket's id under the
    /// ticket secret (a prefix of its own keeps it from passing for any other signed value). A cross-site
    /// page cannot read it, and a cross-site post does not carry the ticket cookie (SameSite=Lax) anyway.
    func againFormToken(ticketID: String) -> String {
        let signed = tickets.sign("join-again-form." + ticketID)
        return String(signed[signed.index(after: signed.lastIndex(of: ".")!)...])
    }

    /// A page with its headers; the CSP lets the shop's logo load from the shop's own origin.
    private func pageResponse(_ html: String, brand: WaitPage.Brand) -> Response {
        PageSecurity.page(
            status: .ok, html, scriptHashes: pages.wait.template.scriptHashes, imageOrigins: brand.logoUrl.flatMap(PageSecurity.origin).map { [$0] } ?? []
        )
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
