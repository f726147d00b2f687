#!/usr/bin/perl
#
# NAME
#	copycheck.pl - what a copy's decrypted content may hold
# SYNOPSIS
#	perl t/copycheck.pl PLAIN PREFIX
# DESCRIPTION
#	PLAIN is the decrypted content of one member's copy: the inner
#	entity the list signed.  It may hold only two things: header fields
#	the milter writes, and the poster's signed entity as the signature
#	covers it, with the structure RFC 3156 needs around it:
#	  - every header field is one the milter writes (Content-*, the
#	    protected fields, List-*, Authentication-Results, HP-Outer) and
#	    no line of the header section is longer than 998 octets;
#	  - a multipart/signed body is exactly: delimiter, signed part,
#	    delimiter, a signature part whose body is one bare ASCII armor
#	    (no armor header, nothing after the checksum or the END line),
#	    close delimiter; no preamble, no epilogue.  The signed part goes
#	    to PREFIX.data and the armor to PREFIX.sig for gpg;
#	  - a text/plain body that is an inline clear-signed block is exactly
#	    that block as the signature covers it: Hash headers only, no
#	    trailing white space, dash-escapes only where needed, a bare
#	    armor; it goes to PREFIX.clear for gpg;
#	  - anything else must be the content of a post signed inside the
#	    encryption (Authentication-Results says so) and must not itself
#	    be signed.
#	Prints "signed", "clearsigned" or "combined" and the poster's
#	fingerprint from Authentication-Results (policy.key) on one line.
# DIAGNOSTICS
#	Exit status 0 when the content is as it should be; otherwise 1 with
#	what is wrong on stderr, one line per problem.

use strict;
use warnings;
use MIME::Base64;

my ($plain, $prefix) = @ARGV;
die "usage: copycheck.pl PLAIN PREFIX\n" unless defined $prefix;
open my $fh, '<:raw', $plain or die "$plain: $!\n";
my $m = do { local $/; <$fh> };
close $fh;

my @bad;
my ($head, $body) = split /\r\n\r\n/, $m, 2;
push @bad, 'no blank line after the header section' unless defined $body;
$body //= '';

for my $line (split /\r\n/, $head) {
	push @bad, sprintf('a header line of %d octets', length $line)
	    if length($line) > 998;
}
my %field;
my $allowed = qr/^(Content-[A-Za-z-]+|From|To|Cc|Subject|Date|Message-ID|
    Reply-To|In-Reply-To|References|List-Id|List-Post|List-Help|
    Authentication-Results|HP-Outer)$/xi;
(my $unfolded = $head) =~ s/\r\n(?=[ \t])//g;
for my $f (split /\r\n/, $unfolded) {
	my ($name, $value) = $f =~ /^([^:\s]+):[ \t]*(.*)$/s or do {
		push @bad, "not a header field: " . substr($f, 0, 60);
		next;
	};
	push @bad, "a header field the milter does not write: $name"
	    unless $name =~ $allowed;
	$field{lc $name} //= $value;
}
my $ct = $field{'content-type'} // '';
my ($poster) = ($field{'authentication-results'} // '') =~
    /policy\.key=([0-9A-F]{40})/;
push @bad, 'no Authentication-Results naming the poster\'s key'
    unless $poster;
$poster //= '-';

# A bare armor: BEGIN, empty line, base64 lines, checksum, END.
my $armor = qr/-----BEGIN\ PGP\ SIGNATURE-----\r?\n\r?\n
    (?:[A-Za-z0-9+\/=]{1,76}\r?\n)+=[A-Za-z0-9+\/]{4}\r?\n
    -----END\ PGP\ SIGNATURE-----\r?\n/x;
my $kind;

sub out {
	my ($file, $data) = @_;
	open my $o, '>:raw', $file or die "$file: $!\n";
	print $o $data;
	close $o;
}

if ($ct =~ m{^multipart/signed}i) {
	$kind = 'signed';
	my ($b) = $ct =~ /boundary="?([^";\r\n]+)"?/i;
	if (!defined $b) {
		push @bad, 'multipart/signed without a boundary';
	} elsif ($body !~ /\A--\Q$b\E\r\n(.*?)\r\n--\Q$b\E\r\n(.*)\r\n--\Q$b\E--\r\n\z/s) {
		push @bad, 'the multipart/signed body is not exactly two parts '
		    . 'without preamble and epilogue';
	} else {
		my ($data, $sig) = ($1, $2);
		my ($sh, $sb) = split /\r\n\r\n/, $sig, 2;
		$sb //= '';
		push @bad, 'the second part is not application/pgp-signature'
		    unless $sh =~ m{^Content-Type: application/pgp-signature}i;
		for my $l (split /\r\n/, $sh) {
			push @bad, "a field of the signature part: $l"
			    unless $l =~ /^(Content-[A-Za-z-]+:|[ \t])/;
		}
		push @bad, 'the signature part holds more than a bare armor'
		    unless $sb =~ /\A$armor\z/;
		out("$prefix.data", $data);
		out("$prefix.sig", $sb);
	}
} elsif ($ct =~ m{^text/plain}i && ($field{'authentication-results'} // '')
    !~ /inside the encryption/) {
	$kind = 'clearsigned';
	my $cte = lc($field{'content-transfer-encoding'} // '7bit');
	my $text = $cte eq 'base64' ? decode_base64($body) : $body;
	push @bad, "a clear-signed text sent as $cte"
	    unless $cte =~ /^(7bit|8bit|base64)$/;
	if ($text !~ /\A-----BEGIN\ PGP\ SIGNED\ MESSAGE-----\r?\n
	    (?:Hash:\ [A-Za-z0-9,]+\r?\n)*\r?\n(.*?)\r?\n$armor\z/xs) {
		push @bad, 'the text is not exactly one clear-signed block '
		    . 'with a bare armor';
	} else {
		for my $l (split /\r?\n/, $1) {
			push @bad, 'trailing white space the signature does '
			    . 'not cover' if $l =~ /[ \t]$/;
			push @bad, "a needless dash-escape: $l"
			    if $l =~ /^- / && $l !~ /^- (-|From )/;
		}
	}
	out("$prefix.clear", $text);
} else {
	$kind = 'combined';
	push @bad, 'content that no signature a member can check covers, '
	    . 'and no statement that the list verified it'
	    unless ($field{'authentication-results'} // '') =~
	    /inside the encryption/;
	push @bad, 'the content signed inside the encryption is itself signed'
	    if $body =~ /^-----BEGIN PGP (SIGNED )?MESSAGE-----/m ||
	    $ct =~ m{^multipart/(signed|encrypted)}i ||
	    $body =~ m{^Content-Type:\s*multipart/(signed|encrypted)}mi;
}

print STDERR "$_\n" for @bad;
print "$kind $poster\n";
exit(@bad ? 1 : 0);
