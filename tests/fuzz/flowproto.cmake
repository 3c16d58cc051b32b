# sFlow and IPFIX/NetFlow parsers (issue #8); seeds in corpus/sflow/ and corpus/ipfix/.
wb_add_fuzz(sflow DEPS weighbridge::capture)
wb_add_fuzz(ipfix DEPS weighbridge::capture)
