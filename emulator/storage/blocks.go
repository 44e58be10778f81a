package storage

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
)

// Block blobs larger than a client's single-upload size arrive as blocks staged with Put Block
// and committed in order by Put Block List: az acr build's storage SDK does so for contexts
// over 64 MiB (https://learn.microsoft.com/rest/api/storageservices/put-block-list).

const (
	// maxBlockListEntries is the service's limit of blocks in a committed block list.
	maxBlockListEntries = 50000
	// maxBlockListBody bounds a Put Block List body (50,000 entries of the longest ids).
	maxBlockListBody = 8 << 20
	// maxBlockIDBytes is the longest block id, decoded.
	maxBlockIDBytes = 64
)

// stageBlock keeps an uncommitted block (Put Block); the blob need not exist yet.
func (s *Store) stageBlock(ref Ref, id string, data []byte) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.writableLocked(ref)
	if err != nil {
		return err
	}
	if b := c.blobs[ref.Blob]; b != nil && b.Type != BlockBlob {
		return errInvalidBlobType()
	}
	st := c.staged[ref.Blob]
	if st == nil {
		st = &stage{blocks: map[string][]byte{}}
	}
	old, had := st.blocks[id]
	if !had && len(st.blocks) >= maxStagedBlocks {
		return errBlockCountExceeded()
	}
	delta := int64(len(data) - len(old))
	if delta > 0 && s.held+s.reserved+delta > s.maxBytes {
		return errOverCapacity()
	}
	st.blocks[id] = data
	st.bytes += delta
	s.held += delta
	c.staged[ref.Blob] = st
	return nil
}

// listEntry is one element of a block list: which list (Committed, Uncommitted or Latest) to
// take the block from.
type listEntry struct {
	list, id string
}

// commitBlocks writes a block blob from a block list (Put Block List); the staged blocks go.
func (s *Store) commitBlocks(ref Ref, entries []listEntry, p Props) *Error {
	return s.write(ref, true, func(c *container, old *blob) (*blob, *Error) {
		if old != nil && old.Type != BlockBlob {
			return nil, errInvalidBlobType()
		}
		staged := map[string][]byte{}
		if st := c.staged[ref.Blob]; st != nil {
			staged = st.blocks
		}
		committed := func(id string) ([]byte, bool) {
			if old == nil {
				return nil, false
			}
			for _, b := range old.committed {
				if b.id == id {
					return old.Data[b.off : b.off+b.sz], true
				}
			}
			return nil, false
		}
		var data []byte
		var blocks []block
		for _, e := range entries {
			var part []byte
			ok := false
			switch e.list {
			case "Uncommitted":
				part, ok = staged[e.id]
			case "Committed":
				part, ok = committed(e.id)
			case "Latest":
				if part, ok = staged[e.id]; !ok {
					part, ok = committed(e.id)
				}
			}
			if !ok {
				return nil, errInvalidBlockList()
			}
			if int64(len(data)+len(part)) > s.maxBlob {
				return nil, errBodyTooLarge(s.maxBlob)
			}
			blocks = append(blocks, block{id: e.id, off: len(data), sz: len(part)})
			data = append(data, part...)
		}
		nb := s.newBlob(BlockBlob, data, p, old, nil)
		nb.committed = blocks
		return nb, nil
	})
}

// parseBlockList reads a Put Block List body:
// <BlockList><Latest>id</Latest><Committed>id</Committed>...</BlockList>.
func parseBlockList(body io.Reader) ([]listEntry, *Error) {
	raw, err := io.ReadAll(io.LimitReader(body, maxBlockListBody+1))
	if err != nil {
		return nil, errInvalidInput()
	}
	if len(raw) > maxBlockListBody {
		return nil, errBodyTooLarge(maxBlockListBody)
	}
	var doc struct {
		XMLName xml.Name
		Entries []struct {
			XMLName xml.Name
			ID      string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		return nil, errInvalidXML()
	}
	if doc.XMLName.Local != "BlockList" {
		return nil, errInvalidXML()
	}
	if len(doc.Entries) > maxBlockListEntries {
		return nil, newError(http.StatusBadRequest, "BlockListTooLong", "The block list may not contain more than 50,000 blocks.")
	}
	out := make([]listEntry, 0, len(doc.Entries))
	for _, e := range doc.Entries {
		switch e.XMLName.Local {
		case "Committed", "Uncommitted", "Latest":
		default:
			return nil, errInvalidXML()
		}
		if !validBlockID(e.ID) {
			return nil, errInvalidBlockList()
		}
		out = append(out, listEntry{list: e.XMLName.Local, id: e.ID})
	}
	return out, nil
}

// validBlockID: a block id is base64 of at most 64 bytes.
func validBlockID(id string) bool {
	b, err := base64.StdEncoding.DecodeString(id)
	return err == nil && len(b) > 0 && len(b) <= maxBlockIDBytes
}
