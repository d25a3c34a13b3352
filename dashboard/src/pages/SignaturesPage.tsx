import { useState } from 'react';
import { useTitle } from '../lib/hooks';
import { CodeBlock, CopyButton, Mono, Section } from '../components/ui';
import { SNIPPETS } from './signatureSnippets';

/** How receivers verify Herald's Standard Webhooks signatures. */
export function SignaturesPage() {
  useTitle('Verifying signatures');
  const [tab, setTab] = useState(SNIPPETS[0]!.id);
  const snippet = SNIPPETS.find((s) => s.id === tab) ?? SNIPPETS[0]!;

  return (
    <>
      <h1>Verifying webhook signatures</h1>
      <Section title="What Herald sends">
        <p>
          Every delivery is an HTTP <Mono>POST</Mono> signed with the endpoint's secret, following Standard Webhooks 1.0. Three headers
          carry the signature:
        </p>
        <dl className="facts facts-wide">
          <div className="fact">
            <dt>
              <Mono>webhook-id</Mono>
            </dt>
            <dd>The message id. It stays the same on every retry and replay: use it to ignore duplicates.</dd>
          </div>
          <div className="fact">
            <dt>
              <Mono>webhook-timestamp</Mono>
            </dt>
            <dd>Unix seconds of this attempt. Reject deliveries more than five minutes away from your clock.</dd>
          </div>
          <div className="fact">
            <dt>
              <Mono>webhook-signature</Mono>
            </dt>
            <dd>
              <Mono>v1,&lt;base64 HMAC-SHA256&gt;</Mono> of the text <Mono>id.timestamp.body</Mono>. While a secret is being rotated it
              holds several entries separated by one space (<Mono>v1,abc… v1,def…</Mono>); accept the delivery if any one matches. An
              endpoint with an ed25519 key pair also gets <Mono>v1a,&lt;base64 ed25519 signature&gt;</Mono> of the same text, which you
              verify with the endpoint's public key (<Mono>whpk_</Mono> + base64, shown on the endpoint's page) and no shared secret.
            </dd>
          </div>
        </dl>
        <p>
          The HMAC key is the secret after its <Mono>whsec_</Mono> prefix, base64-decoded. Sign the raw body bytes exactly as received —
          parsing and re-serialising the JSON changes them. Compare in constant time. Where the sender is configured for it, the same
          values also arrive as <Mono>svix-id</Mono>, <Mono>svix-timestamp</Mono> and <Mono>svix-signature</Mono>, so Svix's libraries work
          unchanged.
        </p>
      </Section>
      <Section title="Ordered endpoints">
        <p>
          An endpoint with ordered delivery on receives the messages of one ordering key one after another: the next is sent only once
          the one before it succeeded or was dead-lettered. Its deliveries carry two more headers:
        </p>
        <dl className="facts facts-wide">
          <div className="fact">
            <dt>
              <Mono>herald-ordering-key</Mono>
            </dt>
            <dd>The message's ordering key, as the sender gave it.</dd>
          </div>
          <div className="fact">
            <dt>
              <Mono>herald-sequence</Mono>
            </dt>
            <dd>
              The message's place in its key's sequence for this endpoint: 1, 2, 3, … counted per key and per endpoint. A skipped number
              means a message of that key was dead-lettered. A replay goes out when asked, with its original number, so a number can come
              again out of turn.
            </dd>
          </div>
        </dl>
        <p>
          Neither header is covered by the signature, which signs only <Mono>id.timestamp.body</Mono>: treat them as hints for ordering,
          and keep anything you must trust in the signed body. Messages without a key, and endpoints without ordered delivery, carry
          neither header.
        </p>
      </Section>
      <Section title="Verification code">
        <div className="tabs" role="tablist" aria-label="Language">
          {SNIPPETS.map((s) => (
            <button
              key={s.id}
              type="button"
              role="tab"
              id={`tab-${s.id}`}
              aria-selected={s.id === snippet.id}
              aria-controls="snippet-panel"
              className={s.id === snippet.id ? 'tab tab-active' : 'tab'}
              onClick={() => setTab(s.id)}
            >
              {s.title}
            </button>
          ))}
        </div>
        <div id="snippet-panel" role="tabpanel" aria-labelledby={`tab-${snippet.id}`}>
          <p className="muted small">
            <Mono>{snippet.install}</Mono>
          </p>
          <CodeBlock label={`${snippet.title} example`}>{snippet.code}</CodeBlock>
          <CopyButton text={snippet.code} label="Copy code" />
        </div>
      </Section>
      <Section title="Responding">
        <ul>
          <li>Answer 2xx quickly (within 15 seconds) and do the work afterwards. Redirects (3xx) count as failures.</li>
          <li>Any other answer or a timeout is retried on a growing schedule; after the last retry the delivery goes to the dead-letter queue, from where it can be replayed.</li>
          <li>
            Answer <Mono>410 Gone</Mono> to have the endpoint disabled. <Mono>429</Mono> or <Mono>503</Mono> with <Mono>Retry-After</Mono> asks Herald to wait.
          </li>
        </ul>
      </Section>
    </>
  );
}
