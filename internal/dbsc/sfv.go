package dbsc

// A parser and writer for the part of Structured Field Values for HTTP
// (RFC 8941) that the DBSC headers use: lists whose members are items or
// inner lists, each with parameters. Every failure is ErrMalformedHeader.

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// sfKind is the type of a bare item (RFC 8941, section 3.3).
type sfKind int

const (
	sfInteger sfKind = iota + 1
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfBoolean
)

// sfValue is a bare item. text holds a string's unescaped content, a
// token, a number's digits or a byte sequence's decoded bytes.
type sfValue struct {
	kind    sfKind
	text    string
	boolean bool
}

// sfParam is one parameter, in the order it was written.
type sfParam struct {
	key   string
	value sfValue
}

// sfItem is a bare item with its parameters.
type sfItem struct {
	value  sfValue
	params []sfParam
}

// sfMember is a list member: an item, or an inner list (inner != nil or
// isInner) with parameters of its own.
type sfMember struct {
	isInner bool
	inner   []sfItem
	item    sfValue
	params  []sfParam
}

// param returns the value of the last parameter named key (RFC 8941,
// section 3.1.2: a later duplicate overwrites an earlier one).
func param(params []sfParam, key string) (sfValue, bool) {
	var found sfValue
	ok := false
	for _, p := range params {
		if p.key == key {
			found, ok = p.value, true
		}
	}
	return found, ok
}

// maxHeaderLen bounds what the parser reads: DBSC headers are short, and a
// bound keeps a hostile header from costing more than a few microseconds.
const maxHeaderLen = 8 << 10

// sfParser walks s; i is the next byte to read.
type sfParser struct {
	s string
	i int
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHeader}, args...)...)
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }
func (p *sfParser) peek() byte { return p.s[p.i] }

func (p *sfParser) skipSP() {
	for !p.done() && p.peek() == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

// parseSFList parses a whole header value as an sf-list (RFC 8941,
// section 4.2.1).
func parseSFList(s string) ([]sfMember, error) {
	if len(s) > maxHeaderLen {
		return nil, malformed("header longer than %d bytes", maxHeaderLen)
	}
	p := &sfParser{s: s}
	p.skipSP()
	var members []sfMember
	for !p.done() {
		m, err := p.member()
		if err != nil {
			return nil, err
		}
		members = append(members, m)
		p.skipOWS()
		if p.done() {
			return members, nil
		}
		if p.peek() != ',' {
			return nil, malformed("expected ',' at %d", p.i)
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil, malformed("trailing comma")
		}
	}
	return members, nil
}

func (p *sfParser) member() (sfMember, error) {
	if p.peek() == '(' {
		inner, err := p.innerList()
		if err != nil {
			return sfMember{}, err
		}
		params, err := p.params()
		return sfMember{isInner: true, inner: inner, params: params}, err
	}
	it, err := p.item()
	return sfMember{item: it.value, params: it.params}, err
}

func (p *sfParser) innerList() ([]sfItem, error) {
	p.i++ // '('
	items := []sfItem{}
	for {
		p.skipSP()
		if p.done() {
			return nil, malformed("unterminated inner list")
		}
		if p.peek() == ')' {
			p.i++
			return items, nil
		}
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		if p.done() || (p.peek() != ' ' && p.peek() != ')') {
			return nil, malformed("expected ' ' or ')' at %d", p.i)
		}
	}
}

func (p *sfParser) item() (sfItem, error) {
	v, err := p.bareItem()
	if err != nil {
		return sfItem{}, err
	}
	params, err := p.params()
	return sfItem{value: v, params: params}, err
}

func (p *sfParser) params() ([]sfParam, error) {
	var params []sfParam
	for !p.done() && p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		v := sfValue{kind: sfBoolean, boolean: true}
		if !p.done() && p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		params = append(params, sfParam{key: key, value: v})
	}
	return params, nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.done() || !(isLCAlpha(p.peek()) || p.peek() == '*') {
		return "", malformed("expected a key at %d", p.i)
	}
	for !p.done() && isKeyChar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) bareItem() (sfValue, error) {
	if p.done() {
		return sfValue{}, malformed("expected an item at the end")
	}
	switch c := p.peek(); {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == '*' || isAlpha(c):
		return p.token(), nil
	case c == ':':
		return p.bytes()
	case c == '?':
		return p.boolean()
	default:
		return sfValue{}, malformed("unexpected %q at %d", c, p.i)
	}
}

// number parses an integer (at most 15 digits) or a decimal (at most 12
// integer and 3 fractional digits), RFC 8941 section 4.2.4.
func (p *sfParser) number() (sfValue, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	digits, dot := 0, -1
	for !p.done() && (isDigit(p.peek()) || (p.peek() == '.' && dot < 0)) {
		if p.peek() == '.' {
			dot = digits
		} else {
			digits++
		}
		p.i++
	}
	text := p.s[start:p.i]
	switch {
	case digits == 0:
		return sfValue{}, malformed("number without digits at %d", start)
	case dot < 0 && digits <= 15:
		return sfValue{kind: sfInteger, text: text}, nil
	case dot > 0 && dot <= 12 && digits-dot >= 1 && digits-dot <= 3:
		return sfValue{kind: sfDecimal, text: text}, nil
	default:
		return sfValue{}, malformed("number out of range at %d", start)
	}
}

func (p *sfParser) str() (sfValue, error) {
	p.i++ // '"'
	var b strings.Builder
	for !p.done() {
		c := p.peek()
		p.i++
		switch {
		case c == '"':
			return sfValue{kind: sfString, text: b.String()}, nil
		case c == '\\':
			if p.done() || (p.peek() != '"' && p.peek() != '\\') {
				return sfValue{}, malformed("bad escape at %d", p.i)
			}
			b.WriteByte(p.peek())
			p.i++
		case c < 0x20 || c > 0x7e:
			return sfValue{}, malformed("byte %#x in a string", c)
		default:
			b.WriteByte(c)
		}
	}
	return sfValue{}, malformed("unterminated string")
}

func (p *sfParser) token() sfValue {
	start := p.i
	p.i++
	for !p.done() && (isTChar(p.peek()) || p.peek() == ':' || p.peek() == '/') {
		p.i++
	}
	return sfValue{kind: sfToken, text: p.s[start:p.i]}
}

func (p *sfParser) bytes() (sfValue, error) {
	p.i++ // ':'
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return sfValue{}, malformed("unterminated byte sequence")
	}
	raw, err := base64.StdEncoding.DecodeString(p.s[p.i : p.i+end])
	if err != nil {
		return sfValue{}, malformed("byte sequence: %v", err)
	}
	p.i += end + 1
	return sfValue{kind: sfBytes, text: string(raw)}, nil
}

func (p *sfParser) boolean() (sfValue, error) {
	p.i++ // '?'
	if p.done() || (p.peek() != '0' && p.peek() != '1') {
		return sfValue{}, malformed("bad boolean at %d", p.i)
	}
	v := sfValue{kind: sfBoolean, boolean: p.peek() == '1'}
	p.i++
	return v, nil
}

func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || (c >= 'A' && c <= 'Z') }
func isKeyChar(c byte) bool {
	return isLCAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*'
}

// isTChar reports a token character of RFC 9110, section 5.6.2.
func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// quoteSF writes s as an sf-string (RFC 8941, section 4.1.6): printable
// ASCII only, '"' and '\' escaped. Anything else is ErrInvalidValue.
func quoteSF(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("%w: byte %#x cannot be in a header string", ErrInvalidValue, c)
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String(), nil
}
