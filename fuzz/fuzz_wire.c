/*
 * fuzz_wire.c - libFuzzer harness for the request parser: every decoder
 * of common/wire.c over arbitrary bytes.  Build: make fuzz.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_hdr	 h;
	struct wire_get	 g;
	struct rbuf	 r;
	protets_info	 in;
	protets_proc	 pr;
	char		 name[PROTETS_NAME_MAX + 1];
	uint32_t	 flags;

	if (size >= sizeof(h)) {
		memcpy(&h, data, sizeof(h));
		(void)wire_hdr_check_request(&h);
		data += sizeof(h);
		size -= sizeof(h);
	}
	rbuf_init(&r, data, size);
	(void)wire_get_get(&r, &g);
	rbuf_init(&r, data, size);
	if (wire_get_name(&r, name) == 0)
		(void)rbuf_end(&r);
	rbuf_init(&r, data, size);
	(void)wire_get_info(&r, &in, &flags);
	rbuf_init(&r, data, size);
	while (!r.err && r.off < r.len)
		(void)wire_get_proc(&r, &pr);
	return 0;
}
