// WebRTC media over the room's WebSocket signalling (docs/protocol.md,
// "WebRTC signalling"): the seller publishes one audio+video stream to the
// server, and each viewer receives it on a receive-only PeerConnection that
// the server offers. ICE candidates trickle both ways as `ice_candidate`
// frames tagged with their `target` ('publish' or 'subscribe').

/** Only the fields the protocol defines (browsers add `usernameFragment`). */
function candidateJson(candidate) {
  return { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex };
}

class Peer {
  constructor(conn, target, iceServers) {
    this.conn = conn;
    this.target = target;
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    /** Remote candidates that arrived before the remote description. */
    this.pendingCandidates = [];
    this.pc.addEventListener('icecandidate', (event) => {
      if (event.candidate && event.candidate.candidate) {
        this.conn.send({ type: 'ice_candidate', target: this.target, candidate: candidateJson(event.candidate) });
      }
    });
  }

  async addRemoteCandidate(candidate) {
    if (!candidate || !candidate.candidate) return;
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      console.warn('ignoring a bad ICE candidate', error);
    }
  }

  async flushCandidates() {
    const waiting = this.pendingCandidates.splice(0);
    for (const candidate of waiting) await this.addRemoteCandidate(candidate);
  }

  close() {
    this.pc.close();
  }
}

/** The seller's outgoing stream. */
export class Publisher extends Peer {
  constructor(conn, iceServers) {
    super(conn, 'publish', iceServers);
  }

  /** Offer `stream`'s tracks to the server. */
  async start(stream) {
    for (const track of stream.getTracks()) {
      this.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.conn.send({ type: 'publish_offer', sdp: this.pc.localDescription.sdp });
  }

  async acceptAnswer(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    await this.flushCandidates();
  }

  /** Switch camera or microphone without renegotiating. */
  async replaceTrack(track) {
    const sender = this.pc.getSenders().find((s) => s.track && s.track.kind === track.kind);
    if (sender) await sender.replaceTrack(track);
  }
}

/** A viewer's incoming stream; `onStream` gets the MediaStream to show. */
export class Subscriber extends Peer {
  constructor(conn, iceServers, onStream) {
    super(conn, 'subscribe', iceServers);
    this.stream = new MediaStream();
    this.pc.addEventListener('track', (event) => {
      const source = event.streams && event.streams[0];
      if (source) {
        this.stream = source;
      } else {
        this.stream.addTrack(event.track);
      }
      onStream(this.stream);
    });
  }

  /** Answer the server's offer (first one or a renegotiation). */
  async acceptOffer(sdp) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.conn.send({ type: 'subscribe_answer', sdp: this.pc.localDescription.sdp });
    await this.flushCandidates();
  }
}

/** Frames decoded so far on a receiving PeerConnection (0 before video flows). */
export async function framesDecoded(pc) {
  let frames = 0;
  const stats = await pc.getStats();
  stats.forEach((report) => {
    if (report.type === 'inbound-rtp' && report.kind === 'video') frames += report.framesDecoded || 0;
  });
  return frames;
}
