import com.pixelmed.validate.DicomSRValidator;

/**
 * PixelMed's DicomSRValidator over several files in one JVM: one start-up and one stylesheet
 * compilation for the lot, instead of one JVM per file (about 5 s each, reference/tools.md).
 * Each file's report is what {@code DicomSRValidator FILE} prints (the same defaults as its main:
 * match the case of code meanings, no other option), preceded by a line {@code ==== FILE}.
 * Run as a single-file source program: {@code java -cp pixelmed.jar SRValidateMany.java FILE...}.
 */
public class SRValidateMany {
    public static void main(String[] args) throws Exception {
        DicomSRValidator validator = new DicomSRValidator();
        for (String file : args) {
            System.out.println("==== " + file);
            try {
                System.out.println(validator.validate(file, false, true, false, false, false));
            } catch (Exception e) {
                System.out.println("Error: validator failed: " + e);
            }
            System.out.flush();
        }
    }
}
